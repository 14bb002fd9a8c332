#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_tag
short_description: Give an image further names (tags) on a Docker engine
version_added: 0.1.0
description:
  - Tags the image O(name) as each reference in O(repository) (C(POST /images/{name}/tag)).
  - A target counts as a change only when it is missing or points at another image; with O(existing=keep)
    a target that points at another image is left alone and listed in RV(kept).
  - To push a local image to a registry, tag it with the registry's name first, then use M(moby.engine.image_push).
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
options:
  name:
    description: The image to tag, by name or id. A name without a tag means V(latest).
    type: str
    required: true
  repository:
    description:
      - New references for the image, as V(repo) or V(repo:tag). A reference without a tag gets O(tag).
    type: list
    elements: str
    required: true
  tag:
    description: Tag for the references in O(repository) that carry none.
    type: str
    default: latest
  existing:
    description:
      - What to do when a target already names another image.
      - V(overwrite) moves the tag to O(name); V(keep) leaves it where it is.
    type: str
    choices: [overwrite, keep]
    default: overwrite
    aliases: [existing_images]
  parallel:
    description:
      - How many targets are looked up and tagged at the same time (1 or more).
      - On Podman before 5.4, which can lose one of two tags of an image made at once, the tags are made one at a
        time.
    type: int
    default: 4
seealso:
  - module: moby.engine.image_push
"""

EXAMPLES = r"""
- name: Mark the tested build as the release
  moby.engine.image_tag:
    name: registry.example.com/team/app:build-412
    repository:
      - registry.example.com/team/app:stable
      - registry.example.com/team/app:2.3.1

- name: Name a local image for the registry before pushing it
  moby.engine.image_tag:
    name: app:latest
    repository: registry.example.com/team/app
    tag: "{{ app_version }}"

- name: Add a tag only if nobody took it yet
  moby.engine.image_tag:
    name: app:latest
    repository: app:first-release
    existing: keep
"""

RETURN = r"""
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: success
  type: str
  sample: "targets missing: 1; naming another image: 0"
image:
  description: Inspect data of the source image (after tagging).
  returned: success
  type: dict
  sample:
    Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    RepoTags: [app:latest, registry.example.com/team/app:2.3.1]
tagged:
  description: Targets that were (or in check mode would be) set to the image.
  returned: always
  type: list
  elements: str
  sample: [registry.example.com/team/app:2.3.1]
kept:
  description: Targets left pointing at another image because of O(existing=keep).
  returned: always
  type: list
  elements: str
  sample: []
results:
  description: One entry per target of O(repository), in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The target, with its tag.
      type: str
      sample: registry.example.com/team/app:2.3.1
    changed:
      description: Whether the target was (or in check mode would be) set to the image.
      type: bool
      sample: true
    reason:
      description: Why the target was (or would be) set, kept or left alone.
      type: str
      sample: the target is missing
    before:
      description: Id of the image the target named before, V(null) when it was missing.
      type: str
    after:
      description: Id of the image the target names after the task.
      type: str
  sample:
    - name: registry.example.com/team/app:2.3.1
      changed: true
      reason: the target is missing
      before: null
      after: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
"""

from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.module_utils._references import parse_image_name, parse_reference
from ansible_collections.moby.engine.plugins.module_utils._retry import (
    PARALLEL_MINIMUMS,
    PARALLEL_OPTIONS,
    results_or_raise,
    run_each,
)

OPTIONS = {
    "name": {"type": "str", "required": True},
    "repository": {"type": "list", "elements": "str", "required": True},
    "tag": {"type": "str", "default": "latest"},
    "existing": {"type": "str", "choices": ["overwrite", "keep"], "default": "overwrite", "aliases": ["existing_images"]},
    **PARALLEL_OPTIONS,
}


def targets(params: dict) -> list:
    refs = []
    for text in params["repository"]:
        ref = parse_reference(text)
        if ref.digest:
            raise InvalidInput("cannot tag as {0!r}: a target carries a tag, not a digest".format(text))
        refs.append(ref if ref.tag else parse_reference(text + ":" + params["tag"]))
    return refs


def decide(current_ids: dict, source_id: str, existing: str) -> tuple:
    """The idempotency decision: (targets to tag, targets kept pointing elsewhere, why).

    A target needs tagging when it is missing or points at another image, unless existing=keep.
    """
    elsewhere = [target for target, image_id in current_ids.items() if image_id not in (None, source_id)]
    missing = [target for target, image_id in current_ids.items() if image_id is None]
    if existing == "keep":
        to_tag, kept = missing, elsewhere
    else:
        to_tag, kept = [target for target in current_ids if target in missing or target in elsewhere], []
    if to_tag:
        return to_tag, kept, "targets missing: {0}; naming another image: {1}".format(
            len(missing), len(to_tag) - len(missing))
    if kept:
        return to_tag, kept, "the other targets name another image, kept because existing is keep"
    return to_tag, kept, "every target already names the image"


def target_reason(current_id: str | None, source_id: str, existing: str) -> str:
    """Why one target is set, kept or left alone (the per-target words of ``decide``)."""
    if current_id is None:
        return "the target is missing"
    if current_id == source_id:
        return "the target already names the image"
    if existing == "keep":
        return "the target names another image, kept because existing is keep"
    return "the target names another image"


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    parse_image_name(params["name"])
    refs = targets(params)
    source = client.inspect_image(params["name"])
    if source is None:
        raise NotFound("no such image {0}".format(params["name"]))
    by_name = {ref.familiar_tagged(): ref for ref in refs}
    names, parallel = list(by_name), params["parallel"]
    # The targets are independent: look them up, and tag them, parallel at a time; results keep the input order.
    currents = results_or_raise(run_each(names, client.inspect_image, parallel))
    before = {name: current and current["Id"] for name, current in zip(names, currents)}
    to_tag, kept, reason = decide(before, source["Id"], params["existing"])
    if not check_mode:
        source_id = source["Id"]
        results_or_raise(run_each(to_tag, lambda name: client.tag_image(
            source_id, by_name[name].familiar_repository, by_name[name].tag), parallel))
        source = client.inspect_image(source_id)
    after = dict(before, **{name: source["Id"] for name in to_tag})
    results = [{"name": name, "changed": name in to_tag,
                "reason": target_reason(before[name], source["Id"], params["existing"]),
                "before": before[name], "after": after[name]} for name in names]
    return {"changed": bool(to_tag), "reason": reason, "image": source, "tagged": to_tag, "kept": kept,
            "results": results, "diff": {"before": before, "after": after}}


def main() -> None:
    run_module(OPTIONS, run, "Tagging {name} as {repository} failed: {error}", minimums=PARALLEL_MINIMUMS)


if __name__ == "__main__":
    main()
