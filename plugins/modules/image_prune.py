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
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  diff_mode:
    support: none
    details: RV(images_deleted) lists what was (or would be) deleted.
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
    type: dict
    default: {}
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
"""

RETURN = r"""
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: success
  type: str
  sample: 3 image(s) removed by the engine
images_deleted:
  description:
    - Ids the engine deleted. Besides image ids, a real run lists the ids of the layers deleted with them.
    - In check mode, the ids of the images that would be deleted.
  returned: always
  type: list
  elements: str
  sample: [sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741]
images_untagged:
  description: Names the engine removed from the deleted images (only when the C(dangling) filter is V(false)).
  returned: always
  type: list
  elements: str
  sample: [registry.example.com/team/app:2.2.0]
space_reclaimed:
  description: Bytes freed; in check mode, the summed size of the images that would go (an upper bound, as layers may be shared).
  returned: always
  type: int
  sample: 4261574
images:
  description: Summaries (C(GET /images/json)) of the images that would be deleted.
  returned: in check mode
  type: list
  elements: dict
  sample:
    - Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
      RepoTags: []
      Created: 1718000000
      Size: 4261574
      Labels: {com.example.ci: "true"}
"""

import calendar
import datetime
import re
import time

from ansible_collections.moby.engine.plugins.module_utils._common import Task, prune_reason, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._filters import (
    IMAGE_LIST_FILTERS,
    IMAGE_PRUNE_FILTERS,
    encode_filters,
    go_duration,
    normalize_filters,
    serialize_filters,
)

OPTIONS = {
    # A free dictionary, not suboptions: "label!" is not a valid option name.
    "filters": {"type": "dict", "default": {}},
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


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    filters = read_filters(params["filters"])
    if check_mode:
        # The prediction: the same selection the engine makes, from the image and container lists.
        candidates = prunable(client, filters)
        return {"changed": bool(candidates), "reason": prune_reason(len(candidates), check_mode, "image"),
                "images_deleted": [image["Id"] for image in candidates],
                "images_untagged": [tag for image in candidates for tag in image.get("RepoTags") or []
                                    if tag != "<none>:<none>"],
                "space_reclaimed": sum(image.get("Size", 0) for image in candidates), "images": candidates}
    response = client.prune_images(encode_filters(filters))
    entries = response.get("ImagesDeleted") or []
    return {"changed": bool(entries), "reason": prune_reason(len(entries), check_mode, "image"),
            "images_deleted": [entry["Deleted"] for entry in entries if entry.get("Deleted")],
            "images_untagged": [entry["Untagged"] for entry in entries if entry.get("Untagged")],
            "space_reclaimed": response.get("SpaceReclaimed") or 0}


def main() -> None:
    run_module(OPTIONS, run, "Pruning images failed: {error}", requires=REQUIRES, requirement_labels={"filters.label!": "filter 'label!'"})


if __name__ == "__main__":
    main()
