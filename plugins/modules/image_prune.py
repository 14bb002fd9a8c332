#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_prune
short_description: Delete unused images from a Docker engine
version_added: 0.1.0
description:
  - Deletes the images no container uses (C(POST /images/prune)), like C(docker image prune).
  - By default only dangling images (without any tag) are deleted; with the C(dangling) filter V(false) every unused
    image is.
  - The task reports a change when the engine deleted anything.
  - In check mode nothing is deleted. The images that would go are listed from C(GET /images/json) and
    C(GET /containers/json), with the filters C(label), C(label!) and C(until) applied to the
    images' labels and creation times the way the engine applies them.
  - Podman's service (4.x) ignores C(label!) when pruning and would delete the images it names, so on Podman a
    C(label!) filter makes the module fail, in check mode too.
  - With a retention policy (any of O(keep_last), O(keep_newer_than), O(repositories), O(protect)) the module
    selects the images itself instead, from C(GET /images/json) and C(GET /containers/json?all=1), among
    B(tagged) images, and removes exactly those, tag by tag (C(DELETE /images/{repo:tag}), never forced); the
    engine deletes an image when its last tag goes. Untagged images are left to the engine's own prune.
  - The policy works per repository. An image counts once in each repository it has tags in (two tags of one
    repository count once), and each repository's tags are kept or selected on their own. An image is deleted only
    when every one of its tags is selected; when some other tag keeps it (a repository outside O(repositories),
    or one where the policy keeps it), only the selected tags are removed and the image stays.
  - An image is never removed, nor any of its tags, when a container (running or stopped) uses it or O(protect)
    names it. An image that is the parent of another image (classic builder) only loses its selected tags; the
    engine keeps it for its children.
  - A real run removes exactly what check mode lists, unless the engine changes in between; a tag that by
    then names another image is left alone, with a warning.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  diff_mode:
    support: partial
    details:
      - With a retention policy, the tags of each repository the policy removes something from, before and after.
      - With O(filters), no diff; RV(images_deleted) lists what was (or would be) deleted.
options:
  filters:
    description:
      - Which unused images to delete, as a dictionary with these keys (a value may be a string or, for
        repeated labels, a list).
      - V(dangling) V(true) (the default) deletes only images without tags; V(false) deletes every unused image.
      - V(until) deletes only images created before a time, given as a Unix timestamp (V(1718000000)), a date
        (V(2024-06-10), V(2024-06-10T12:00:00Z)) or a duration back from now (V(24h), V(90m)). In check mode
        a duration counts back from the managed host's clock, in a real run from the engine's.
      - V(label) deletes only images carrying all these labels, each as V(key) (any value) or V(key=value).
      - V(label!) keeps images carrying all these labels, each as V(key) or V(key=value).
      - O(filters) cannot be combined with a retention policy (O(keep_last), O(keep_newer_than), O(repositories),
        O(protect)); the engine's prune also deletes untagged images and applies its filters its own way, the policy
        selects tagged images per repository.
    type: dict
    aliases: [images_filters]
    default: {}
  keep_last:
    description:
      - Retention policy. Keep the O(keep_last) newest images of each repository, by creation time (C(Created)).
      - Every image of the repository counts, including those kept for another reason (in use, protected).
      - Images created in the same second as the last one kept are all kept, so a repository may keep more than
        O(keep_last) images, never fewer.
      - V(0) keeps none by count; O(keep_newer_than), O(protect) and containers may still keep some.
    type: int
  keep_newer_than:
    description:
      - Retention policy. Keep the images created less than this long ago, as a Go duration (V(36h), V(90m),
        V(1h30m)), optionally preceded by days (V(7d), V(1d12h)). A number needs a unit; only V(0) does not.
      - Together with O(keep_last), an image is kept when either keeps it.
      - The age counts from the managed host's clock, in check mode and in a real run alike.
    type: str
  repositories:
    description:
      - Retention policy. Only the tags matching one of these patterns are candidates; the others are not touched
        and keep their images.
      - Patterns are matched as the engine's C(reference) filter matches them, with Go's C(path.Match) on the familiar
        name (C(busybox), C(team/app), C(registry.example.com:5000/team/app)), with and without the tag. C(*) and
        C(?) do not match C(/), so V(registry.example.com/team/*) takes the repositories right under C(team).
      - A pattern may also name tags (V(team/app:rc-*)); then O(keep_last) counts among those tags only.
      - Without O(repositories), every repository on the engine is a candidate.
    type: list
    elements: str
  protect:
    description:
      - Retention policy. Images never removed, nor any of their tags, given as V(repo:tag) (a name without tag
        means V(latest)), V(repo@digest) or an image id (full, or a prefix of 12 hex digits or more, with or
        without C(sha256:)). Names and ids that name no image are ignored.
      - O(protect) only narrows a policy; give O(keep_last), O(keep_newer_than) or O(repositories) with it.
    type: list
    elements: str
seealso:
  - module: moby.engine.image_remove
"""

EXAMPLES = r"""
- name: Delete dangling images left behind by builds
  moby.engine.image_prune:

- name: Delete every unused image older than a week, except the pinned ones
  moby.engine.image_prune:
    filters:
      dangling: false
      until: 168h
      label!: com.example.pinned=true

- name: See what a cleanup of the CI images would delete
  moby.engine.image_prune:
    filters:
      label: [com.example.ci, com.example.stage=test]
  check_mode: true
  register: would_prune

- name: Keep the three newest releases of each team repository and everything from the last week
  moby.engine.image_prune:
    repositories: ["registry.example.com/team/*"]
    keep_last: 3
    keep_newer_than: 7d
    protect: [registry.example.com/team/app:stable]

- name: Show which release candidates of app would go, keeping the newest two
  moby.engine.image_prune:
    repositories: ["registry.example.com/team/app:rc-*"]
    keep_last: 2
  check_mode: true
  diff: true
  register: would_go

- name: Remove every unused image of a retired repository
  moby.engine.image_prune:
    repositories: [registry.example.com/team/legacy]
"""

RETURN = r"""
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: success
  type: str
  sample: 3 image(s) removed by the engine
images_deleted:
  description:
    - Ids the engine deleted. Besides image ids, a real run with O(filters) lists the ids of the layers deleted
      with them.
    - In check mode, the ids of the images that would be deleted.
    - With a retention policy, the ids of the selected images the engine deleted (or would delete), the same list
      in check mode and in the real run.
  returned: always
  type: list
  elements: str
  sample: [sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741]
images_untagged:
  description:
    - Names the engine removed from the deleted images (only when the C(dangling) filter is V(false)).
    - With a retention policy, every tag removed (or that would be), from deleted images and from images that
      other tags keep; the same list in check mode and in the real run.
  returned: always
  type: list
  elements: str
  sample: [registry.example.com/team/app:2.2.0]
space_reclaimed:
  description:
    - Bytes freed; in check mode, the summed size of the images that would go (an upper bound, as layers may be
      shared).
    - With a retention policy, the summed size (C(Size)) of RV(images_deleted), in check mode and in the real run.
  returned: always
  type: int
  sample: 4261574
images:
  description:
    - Summaries (C(GET /images/json)) of the images that would be deleted.
    - With a retention policy, of the images the policy selects tags of (deleted or only untagged), as they were
      before the run.
  returned: in check mode, and with a retention policy
  type: list
  elements: dict
  sample:
    - Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
      RepoTags: []
      Created: 1718000000
      Size: 4261574
      Labels: {com.example.ci: "true"}
images_kept:
  description:
    - With a retention policy, the images in scope (a tag matches O(repositories)) of which no tag is removed, and
      why, each as C(id), C(tags) (its tags in scope) and C(reasons).
  returned: with a retention policy
  type: list
  elements: dict
  sample:
    - id: sha256:9b4ea6e4a1e0d5d9b8d5c8a7b1a8b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3
      tags: [registry.example.com/team/app:2.4.0]
      reasons: [one of the 3 newest of registry.example.com/team/app]
"""

import calendar
import datetime
import re
import time

from ansible_collections.moby.engine.plugins.module_utils._common import Task, prune_reason, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement, prune_filter_sets
from ansible_collections.moby.engine.plugins.module_utils._errors import Conflict, InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.module_utils._filters import (
    IMAGE_LIST_FILTERS,
    IMAGE_PRUNE_FILTERS,
    encode_filters,
    go_duration,
    normalize_filters,
    serialize_filters,
)
from ansible_collections.moby.engine.plugins.module_utils._retention import (
    POLICY_OPTIONS,
    Policy,
    decide,
    hex_id,
    read_policy,
    tags_diff,
)

OPTIONS = {
    # A free dictionary, not suboptions: "label!" is not a valid option name.
    "filters": {"type": "dict", "default": {}, "aliases": ["images_filters"]},
    # The retention policy: the module selects tagged images itself (see decide()).
    "keep_last": {"type": "int"},
    "keep_newer_than": {"type": "str"},
    "repositories": {"type": "list", "elements": "str"},
    "protect": {"type": "list", "elements": "str"},
}
# Podman 4 ignores label! when pruning and deletes the very images it names: refuse, in check mode too.
REQUIRES = {"filters.label!": Requirement(feature="prune_label_not")}

_UNIX_TIME_RE = re.compile(r"^\d+(?:\.\d+)?$")
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%dT%H%z", "%Y-%m-%dT%H", "%Y-%m-%d")


def until_timestamp(value: str, now: float) -> float:
    """Seconds since the epoch for an until filter value, read as the engine reads it."""
    text = value.strip()
    if _UNIX_TIME_RE.match(text):
        return float(text)
    seconds = go_duration(text)
    if seconds is not None:
        return now - seconds
    # Fractions of a second do not change which images are older; drop them so strptime needs one format less.
    undecimal = re.sub(r"(T\d\d:\d\d:\d\d)\.\d+", r"\1", text).replace("Z", "+00:00")
    for date_format in _DATE_FORMATS:
        try:
            moment = datetime.datetime.strptime(undecimal, date_format)
        except ValueError:
            continue
        if moment.tzinfo is None:
            # Like the engine, a time without a zone is local time.
            return time.mktime(moment.timetuple())
        return calendar.timegm(moment.utctimetuple())
    raise InvalidInput(
        "until {0!r} is not a Unix timestamp (1718000000), a date (2024-06-10 or 2024-06-10T12:00:00Z) "
        "or a duration (24h, 90m)".format(value))


def labels_match(wanted: list, labels: dict) -> bool:
    """Whether every ``key`` or ``key=value`` of wanted holds for labels (the engine's MatchKVList)."""
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def read_filters(filters: dict) -> dict:
    """The filters as ``{key: [str]}``; raise InvalidInput on what the engine would refuse."""
    normalized = normalize_filters(filters, IMAGE_PRUNE_FILTERS)
    for key in ("dangling", "until"):
        if len(normalized.get(key, [])) > 1:
            raise InvalidInput("filter {0!r} takes one value, got {1}".format(key, normalized[key]))
    dangling = normalized.get("dangling", ["true"])[0].lower()
    if dangling not in ("true", "1", "false", "0"):
        raise InvalidInput("filter 'dangling' must be true or false, got {0!r}".format(dangling))
    if "until" in normalized:
        until_timestamp(normalized["until"][0], time.time())
    return normalized


def prunable(client, filters: dict) -> list:
    """The image summaries a prune with these (normalized) filters would delete."""
    dangling_only = filters.get("dangling", ["true"])[0].lower() in ("true", "1")
    images = client.list_images(filters=serialize_filters({"dangling": True} if dangling_only else None,
                                                          IMAGE_LIST_FILTERS))
    in_use = {container.get("ImageID") for container in client.list_containers(all_containers=True)}
    until = until_timestamp(filters["until"][0], time.time()) if "until" in filters else None
    candidates = []
    for image in images:
        labels = image.get("Labels") or {}
        if image["Id"] in in_use or (until is not None and image.get("Created", 0) > until):
            continue
        if not labels_match(filters.get("label", []), labels):
            continue
        if "label!" in filters and labels_match(filters["label!"], labels):
            continue
        candidates.append(image)
    return candidates


def apply_retention(task: Task, selection: dict) -> tuple:
    """Remove the selected tags, each only while it still names the selected image; (tags removed, ids deleted)."""
    client = task.client
    untagged, deleted = [], set()
    for image_id, tags in selection["removals"]:
        for tag in tags:
            current = client.inspect_image(tag)
            if current is None:
                continue
            if hex_id(current.get("Id")) != hex_id(image_id):
                task.warn("{0} left alone: it names {1} now, not {2}".format(tag, current.get("Id"), image_id))
                continue
            try:
                answer = client.remove_image(tag, noprune=True)
            except NotFound:
                continue
            except Conflict as exc:
                # A container created since the listing: the engine refuses, the image stays.
                task.warn("{0} left alone: {1}".format(tag, exc))
                break
            untagged.append(tag)
            deleted.update(item["Deleted"] for item in answer or [] if isinstance(item, dict) and item.get("Deleted"))
    return untagged, deleted


def run_retention(task: Task, policy: Policy) -> dict:
    client = task.client
    images = client.list_images(all_images=True)
    containers = client.list_containers(all_containers=True)
    selection, reason = decide(images, containers, policy, time.time())
    if task.check_mode:
        untagged, deleted = selection["untagged"], selection["deleted"]
    else:
        untagged, confirmed = apply_retention(task, selection)
        deleted = [image_id for image_id in selection["deleted"] if image_id in confirmed]
    sizes = {image["Id"]: image.get("Size") or 0 for image in selection["images"]}
    return {"changed": bool(untagged), "reason": reason, "images_deleted": deleted, "images_untagged": untagged,
            "space_reclaimed": sum(sizes[image_id] for image_id in deleted), "images": selection["images"],
            "images_kept": selection["kept"], "diff": tags_diff(selection["repositories"], untagged)}


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    policy = read_policy(params)
    if policy is not None:
        return run_retention(task, policy)
    filters = read_filters(params["filters"])
    if check_mode:
        # The prediction: the same selection the engine makes, from the image and container lists.
        candidates = prunable(client, filters)
        return {"changed": bool(candidates), "reason": prune_reason(len(candidates), check_mode, "image"),
                "images_deleted": [image["Id"] for image in candidates],
                "images_untagged": [tag for image in candidates for tag in image.get("RepoTags") or []
                                    if tag != "<none>:<none>"],
                "space_reclaimed": sum(image.get("Size", 0) for image in candidates), "images": candidates}
    # Only a label! filter makes the image store matter (and costs the GET /info that tells it).
    filter_sets = prune_filter_sets(filters, "label!" in filters and client.uses_containerd_store())
    responses = [client.prune_images(encode_filters(filter_set)) for filter_set in filter_sets]
    entries = [entry for response in responses for entry in response.get("ImagesDeleted") or []]
    return {"changed": bool(entries), "reason": prune_reason(len(entries), check_mode, "image"),
            "images_deleted": [entry["Deleted"] for entry in entries if entry.get("Deleted")],
            "images_untagged": [entry["Untagged"] for entry in entries if entry.get("Untagged")],
            "space_reclaimed": sum(response.get("SpaceReclaimed") or 0 for response in responses)}


def main() -> None:
    run_module(OPTIONS, run, "Pruning images failed: {error}", requires=REQUIRES, requirement_labels={"filters.label!": "filter 'label!'"},
               minimums={"keep_last": 0}, mutually_exclusive=[("filters", option) for option in POLICY_OPTIONS])


if __name__ == "__main__":
    main()
