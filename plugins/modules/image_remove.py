#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_remove
short_description: Remove images (or just their names) from a Docker engine
version_added: 0.1.0
description:
  - Removes each image named in O(name) (C(DELETE /images/{name})).
  - Removing by V(repo:tag) removes that name; the image itself goes only when no other name refers to it,
    exactly as C(docker image rm) does. Removing by id removes the image.
  - An image that is already absent is not an error and not a change.
  - Only what is named is removed; with O(prune=true) the engine also deletes untagged parent layers that
    belonged only to the removed image.
  - With O(platforms), only the content of those platforms of a multi-platform image is removed; the image and its
    names stay, with its other platforms. Whether a platform's content is present is asked per platform
    (C(GET /images/{name}/json?platform=...), which answers 404 when it is absent), so a platform already gone is not
    a change, and only present ones are sent to the engine.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
options:
  name:
    description:
      - Images to remove, by V(repo:tag), V(repo@digest) or id. A name without a tag means O(tag), else V(latest).
    type: list
    elements: str
    required: true
  tag:
    description: Tag of the names in O(name) that carry neither a tag nor a digest (community.docker's C(tag)).
    type: str
  force:
    description:
      - Remove the image even when stopped containers use it, and remove an image given by id even when
        several names refer to it.
    type: bool
    default: false
  prune:
    description: Let the engine delete untagged parent images that only the removed image used.
    type: bool
    default: true
  parallel:
    description:
      - How many names of O(name) are removed at the same time (1 or more).
      - Names of the same image may then be removed in any order; the result lists them in the order given.
      - On Podman before 5.4, which can lose one of two changes to an image's names made at once, the names are
        removed one at a time.
    type: int
    default: 4
  platforms:
    description:
      - Remove only the content of these platforms (V(os[/arch[/variant]]), for example V(linux/arm64)) of each image
        in O(name), as C(docker image rm --platform) does; the image keeps its names and its other platforms.
        Spellings are normalised as the engine does (V(linux/aarch64) is V(linux/arm64)).
      - The engine deletes the platform's content for every image that references it, so it insists on O(force=true),
        and so does the module, before anything is removed. O(force) then also removes a platform that a container
        uses.
      - The engine deletes every blob of the platform, layers that other platforms of the image share included, which
        would leave those platforms incomplete. So the task fails, removing nothing, when a platform to remove shares
        a layer with a platform of the image that stays.
      - Needs engine API 1.50 (Docker 28.3 or later) and an image store that keeps several platforms of an image (the
        containerd image store); older engines and Podman fail naming the option and their version, before anything
        is removed.
    type: list
    elements: str
    version_added: 0.1.0
seealso:
  - module: moby.engine.image_prune
"""

EXAMPLES = r"""
- name: Remove an old release
  moby.engine.image_remove:
    name: registry.example.com/team/app:2.2.0

- name: Remove several images, even if stopped containers still use them
  moby.engine.image_remove:
    name:
      - app:build-410
      - app:build-411
    force: true

- name: Free the space of the arm64 platform of a multi-platform image, keeping its name and its amd64 platform
  moby.engine.image_remove:
    name: registry.example.com/team/app:2.3.1
    platforms: [linux/arm64]
    force: true
"""

RETURN = r"""
reasons:
  description: For each element of O(name), why it was (or would be) removed or left alone.
  returned: success
  type: dict
  sample: {"app:1": the image exists, "app:0": there is no such image}
image:
  description: Inspect data of the image before removal, when O(name) has one element that existed.
  returned: when O(name) has one element that existed
  type: dict
  sample:
    Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    RepoTags: [registry.example.com/team/app:2.2.0]
deleted:
  description: Image and layer ids the engine deleted; with O(platforms), the digests of the platform manifests whose
    content was removed.
  returned: always
  type: list
  elements: str
  sample: [sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741]
untagged:
  description: Names the engine removed.
  returned: always
  type: list
  elements: str
  sample: ["registry.example.com/team/app:2.2.0"]
absent:
  description: Names from O(name) that were already absent.
  returned: always
  type: list
  elements: str
  sample: []
results:
  description: One entry per element of O(name), in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The name as given.
      type: str
      sample: app:1
    changed:
      description: Whether the name was (or in check mode would be) removed.
      type: bool
      sample: true
    reason:
      description: Why it was (or would be) removed or left alone.
      type: str
      sample: the image exists
    deleted:
      description: Image and layer ids the engine deleted for this name.
      type: list
      elements: str
    untagged:
      description: Names the engine removed for this name.
      type: list
      elements: str
  sample:
    - name: app:1
      changed: true
      reason: the image exists
      deleted: []
      untagged: ["app:1"]
"""

from ansible_collections.moby.engine.plugins.module_utils._common import Task, image_diff, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import Conflict, InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.module_utils._references import (
    check_platform,
    looks_like_image_id,
    parse_image_name,
    platform_json,
    tagged_name,
)
from ansible_collections.moby.engine.plugins.module_utils._retry import (
    PARALLEL_MINIMUMS,
    PARALLEL_OPTIONS,
    results_or_raise,
    run_each,
)

OPTIONS = {
    "name": {"type": "list", "elements": "str", "required": True},
    "tag": {"type": "str"},
    "force": {"type": "bool", "default": False},
    "prune": {"type": "bool", "default": True},
    "platforms": {"type": "list", "elements": "str"},
    **PARALLEL_OPTIONS,
}
REQUIRES = {"platforms": Requirement(api="1.50")}


def predicted_after(before: dict, name: str) -> dict | None:
    """What removing ``name`` leaves: the image minus that tag while other tags hold it, else nothing."""
    ref = parse_image_name(name)
    tags = before.get("RepoTags") or []
    if ref is not None and not ref.digest and ref.familiar_tagged() in tags and len(tags) > 1:
        return dict(before, RepoTags=[tag for tag in tags if tag != ref.familiar_tagged()])
    return None


def names_id(name: str, image: dict) -> bool:
    """Whether the engine takes ``name`` as (a prefix of) the image's id: it does so for any name that is one,
    a short id that also parses as a repository name included."""
    hex_id = str(image.get("Id") or "").rsplit(":", maxsplit=1)[-1]
    given = name[len("sha256:"):] if name.startswith("sha256:") else name
    return looks_like_image_id(name) and hex_id.startswith(given)


def refuse_like_engine(before: dict, name: str, force: bool) -> None:
    """In check mode, predict the engine's refusal to remove by id an image that several names use."""
    if names_id(name, before) and len(before.get("RepoTags") or []) > 1 and not force:
        raise Conflict("conflict: unable to delete {0} (must be forced) - image is referenced in multiple "
                       "repositories".format(name))


def decide(before: dict | None, platforms: list | None = None, present: list | None = None) -> tuple:
    """The idempotency decision for one name: (remove?, why). Only an image that exists is removed; with
    ``platforms``, only when the content of some of them (``present``) is there."""
    if before is None:
        return False, "there is no such image"
    if not platforms:
        return True, "the image exists"
    if present:
        return True, "the content of {0} is present".format(", ".join(present))
    return False, "the image has no content of {0}".format(", ".join(platforms))


def shared_layers(removed: dict, kept: dict) -> list:
    """Which platforms that stay share a layer with one to remove: the engine deletes every blob of a removed
    platform, shared ones included. ``removed`` and ``kept`` map a platform to its layers (RootFS.Layers)."""
    return sorted("{0} shares layers with {1}".format(stays, gone) for gone, layers in removed.items()
                  for stays, others in kept.items() if set(layers) & set(others))


def unique_platforms(platforms: list) -> dict:
    """The platforms asked for, keyed by their JSON (linux/aarch64 and linux/arm64 are one), in the order given."""
    unique: dict = {}
    for platform in platforms:
        unique.setdefault(platform_json(platform), platform)
    return unique


def present_platforms(task: Task, name: str) -> dict:
    """Of the platforms asked for, those whose content the image has, each with its layers."""
    present = {}
    for encoded, platform in unique_platforms(task.params["platforms"]).items():
        image = task.client.inspect_image(name, platform=encoded)
        if image is not None:
            present[platform] = (encoded, (image.get("RootFS") or {}).get("Layers") or [])
    return present


def refuse_shared(task: Task, name: str, present: dict) -> None:
    """Fail when a platform to remove shares layers with an available platform of the image that stays."""
    removed = {platform: layers for platform, (_encoded, layers) in present.items()}
    encoded_removed = {encoded for encoded, _layers in present.values()}
    kept = {}
    for text in (task.client.available_platforms(name) or {}).values():
        encoded = platform_json(text)
        if encoded in encoded_removed:
            continue
        image = task.client.inspect_image(name, platform=encoded) or {}
        kept[text] = (image.get("RootFS") or {}).get("Layers") or []
    shared = shared_layers(removed, kept)
    if shared:
        raise Conflict("removing {0} would delete layers that stay in use ({1}): the engine deletes every blob of a "
                       "removed platform, shared ones included. Nothing was removed; remove the whole image "
                       "instead".format(", ".join(removed), "; ".join(shared)))


def remove_platforms(task: Task, name: str, before: dict) -> dict:
    """Decide and remove the content of the platforms asked for of one image; its names and other platforms stay."""
    present = present_platforms(task, name)
    remove, reason = decide(before, list(unique_platforms(task.params["platforms"]).values()), list(present))
    item = {"name": name, "changed": remove, "reason": reason, "deleted": [], "untagged": [], "absent": False,
            "image": before}
    diff = image_diff(before, before)
    diff["before"]["platforms"] = list(present)
    if remove:
        refuse_shared(task, name, present)
        if not task.check_mode:
            encoded = [platform for platform, _layers in present.values()]
            removed = task.client.remove_image(name, force=True, platforms=encoded)
            item["deleted"] = [entry["Deleted"] for entry in removed if entry.get("Deleted")]
    diff["after"]["platforms"] = list(present_platforms(task, name)) if remove and not task.check_mode else []
    item["diff"] = diff
    return item


def remove_one(task: Task, name: str) -> dict:
    """Decide and remove one name; what happened to it, with its diff and the image it named before."""
    client, params = task.client, task.params
    before = client.inspect_image(name)
    if before is not None and params["platforms"]:
        return remove_platforms(task, name, before)
    remove, reason = decide(before)
    item = {"name": name, "changed": remove, "reason": reason, "deleted": [], "untagged": [], "absent": not remove,
            "image": before}
    if not remove:
        item["diff"] = image_diff(None, None)
        return item
    if task.check_mode:
        refuse_like_engine(before, name, params["force"])
        item["diff"] = image_diff(before, predicted_after(before, name))
        return item
    try:
        removed = client.remove_image(name, force=params["force"], noprune=not params["prune"])
    except NotFound:
        # Removed by someone else between our inspect and our delete (parallel forks on one engine, or another
        # name of the same image in this task): the image is gone, as asked.
        item["absent"] = True
        item["diff"] = image_diff(before, None)
        return item
    item["deleted"] = [entry["Deleted"] for entry in removed if entry.get("Deleted")]
    item["untagged"] = [entry["Untagged"] for entry in removed if entry.get("Untagged")]
    item["diff"] = image_diff(before, client.inspect_image(before["Id"]))
    return item


def run(task: Task) -> dict:
    names = [tagged_name(name, task.params["tag"]) for name in task.params["name"]]
    # Each name is decided and removed on its own, parallel at a time; the result keeps the order given.
    items = results_or_raise(run_each(names, lambda name: remove_one(task, name), task.params["parallel"]))
    diffs = [item.pop("diff") for item in items]
    images = [item.pop("image") for item in items]
    absent = [item.pop("absent") for item in items]
    result = {
        "changed": any(item["changed"] for item in items),
        "deleted": [image_id for item in items for image_id in item["deleted"]],
        "untagged": [tag for item in items for tag in item["untagged"]],
        "absent": [item["name"] for item, gone in zip(items, absent) if gone],
        "reasons": {item["name"]: item["reason"] for item in items},
        "results": items,
        "diff": diffs[0] if len(diffs) == 1 else diffs,
    }
    if len(items) == 1 and items[0]["changed"]:
        result["image"] = images[0]
    return result


def validate(params: dict) -> None:
    """Bad platforms, and platforms without force, are refused on every engine before anything is asked."""
    for platform in params["platforms"] or []:
        check_platform(platform)
        if not platform:
            raise InvalidInput("platforms has an empty entry; give os[/arch[/variant]], for example linux/arm64")
    if params["platforms"] and not params["force"]:
        raise InvalidInput("platforms removes the content of those platforms from every image that references it, "
                           "which the engine does only when forced: set force: true")


def main() -> None:
    run_module(OPTIONS, run, "Removing {name} failed: {error}", requires=REQUIRES, minimums=PARALLEL_MINIMUMS,
               validate=validate)


if __name__ == "__main__":
    main()
