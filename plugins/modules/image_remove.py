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
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
options:
  name:
    description: Images to remove, by V(repo:tag), V(repo@digest) or id. A name without a tag means V(latest).
    type: list
    elements: str
    required: true
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
  description: Image and layer ids the engine deleted.
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
"""

from ansible_collections.moby.engine.plugins.module_utils._common import Task, image_diff, run_module
from ansible_collections.moby.engine.plugins.module_utils._errors import Conflict, NotFound
from ansible_collections.moby.engine.plugins.module_utils._references import looks_like_image_id, parse_image_name

OPTIONS = {
    "name": {"type": "list", "elements": "str", "required": True},
    "force": {"type": "bool", "default": False},
    "prune": {"type": "bool", "default": True},
}


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
    hex_id = str(image.get("Id") or "").split(":")[-1]
    given = name[len("sha256:"):] if name.startswith("sha256:") else name
    return looks_like_image_id(name) and hex_id.startswith(given)


def refuse_like_engine(before: dict, name: str, force: bool) -> None:
    """In check mode, predict the engine's refusal to remove by id an image that several names use."""
    if names_id(name, before) and len(before.get("RepoTags") or []) > 1 and not force:
        raise Conflict("conflict: unable to delete {0} (must be forced) - image is referenced in multiple "
                       "repositories".format(name))


def decide(before: dict | None) -> tuple:
    """The idempotency decision for one name: (remove?, why). Only an image that exists is removed."""
    return (True, "the image exists") if before is not None else (False, "there is no such image")


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    for name in params["name"]:
        parse_image_name(name)
    result = {"changed": False, "deleted": [], "untagged": [], "absent": [], "reasons": {}}
    diffs = []
    for name in params["name"]:
        before = client.inspect_image(name)
        remove, result["reasons"][name] = decide(before)
        if not remove:
            result["absent"].append(name)
            diffs.append(image_diff(None, None))
            continue
        result["changed"] = True
        if len(params["name"]) == 1:
            result["image"] = before
        if check_mode:
            refuse_like_engine(before, name, params["force"])
            diffs.append(image_diff(before, predicted_after(before, name)))
            continue
        try:
            removed = client.remove_image(name, force=params["force"], noprune=not params["prune"])
        except NotFound:
            # Removed by someone else between our inspect and our delete (parallel forks on one engine):
            # the image is gone, as asked.
            result["absent"].append(name)
            diffs.append(image_diff(before, None))
            continue
        for item in removed:
            if item.get("Deleted"):
                result["deleted"].append(item["Deleted"])
            if item.get("Untagged"):
                result["untagged"].append(item["Untagged"])
        diffs.append(image_diff(before, client.inspect_image(before["Id"])))
    result["diff"] = diffs[0] if len(diffs) == 1 else diffs
    return result


def main() -> None:
    run_module(OPTIONS, run, "Removing {name} failed: {error}")


if __name__ == "__main__":
    main()
