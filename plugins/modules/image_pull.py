#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_pull
short_description: Pull images from a registry, moving no bytes when they are current
version_added: 0.1.0
description:
  - Pulls images into a Docker engine (C(POST /images/create?fromImage=)).
  - With O(pull=missing) (the default) an image is pulled only when the reference (and O(platform), when given)
    is not present locally.
  - With O(pull=always) the module first asks the engine for the registry's current manifest digest
    (C(GET /distribution/{name}/json)); when the local image already carries that digest nothing is downloaded.
    The task reports a change only when the local image id changed.
  - Several images named in one task are pulled concurrently (see O(parallel)), which costs one module start
    instead of one per image.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.REGISTRY
  - moby.engine.engine.RETRY
  - moby.engine.engine.ACTION_ATTRIBUTES
options:
  name:
    description:
      - Images to pull, as V(repo), V(repo:tag) or V(repo@sha256:...), with the registry first when it is not Docker Hub
        (V(registry.example.com:5000/team/app:1.2)).
    type: list
    elements: str
    required: true
  tag:
    description:
      - Tag to pull for the names in O(name) that carry neither a tag nor a digest.
    type: str
    default: latest
  platform:
    description:
      - Platform to pull, as V(os[/arch[/variant]]), for example V(linux/arm64).
      - With O(pull=missing), a local image of another platform counts as missing. On an engine that keeps
        several platforms of an image (the containerd image store, API 1.49 or later), each platform is present
        or missing on its own, so pulling a second platform of a multi-platform image reports a change and a
        rerun does not; RV(image) is then the inspect data of that platform (its C(Id) is the platform
        manifest's digest).
    type: str
  all_tags:
    description:
      - Pull every tag of each repository in O(name). The names must not carry a tag or digest.
      - The task reports a change when any local tag of the repositories was added or now points at another image.
      - In check mode the prediction can only use local state; it predicts a change when the repository has
        no local tags.
      - Podman's Docker-compatible service pulls only V(latest) when no tag is given, so there the task fails
        instead.
    type: bool
    default: false
  pull:
    description:
      - V(missing) pulls only images that are not present locally.
      - V(always) compares the registry's digest with the local image and pulls when they differ.
      - V(not_present) is community.docker's name for V(missing). Unlike C(community.docker.docker_image_pull),
        whose default is V(always), the default here is V(missing); set O(pull=always) to keep that behaviour.
    type: str
    choices: [missing, always, not_present]
    default: missing
  parallel:
    description: How many images of O(name) are pulled at the same time (1 or more).
    type: int
    default: 4
seealso:
  - module: moby.engine.image_info
  - module: moby.engine.image_tag
"""

EXAMPLES = r"""
- name: Make sure busybox is present (pulls only when missing)
  moby.engine.image_pull:
    name: busybox:1.36

- name: Keep the app image current with the registry, downloading nothing when it already is
  moby.engine.image_pull:
    name: registry.example.com/team/app:stable
    pull: always
    registry_auth:
      username: deploy
      password: "{{ registry_password }}"

- name: Pull a whole stack in one task, four images at a time
  moby.engine.image_pull:
    name:
      - registry.example.com/team/api:2.3
      - registry.example.com/team/web:2.3
      - registry.example.com/team/worker:2.3
      - postgres:16
      - redis:7
    parallel: 4

- name: Ride out a registry that answers 503 or 429 now and then - up to 3 more attempts, 2 s, 4 s, 8 s apart
  moby.engine.image_pull:
    name: registry.example.com/team/app:stable
    pull: always
    retries: 3
    retry_delay: 2
  register: pulled

- name: Show how many attempts each image needed, and why
  ansible.builtin.debug:
    msg: "{{ pulled.results | map(attribute='attempts') | list }}"

- name: Pull an image for another platform by digest
  moby.engine.image_pull:
    name: alpine@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
    platform: linux/arm64
"""

RETURN = r"""
image:
  description: Inspect data of the pulled image, when O(name) holds exactly one image (not with O(all_tags)).
  returned: success and when O(name) has one element
  type: dict
  sample:
    Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    RepoTags: [busybox:1.36]
    RepoDigests: [busybox@sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb]
    Architecture: amd64
    Os: linux
results:
  description: One entry per element of O(name), in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The reference as given.
      type: str
      sample: busybox:1.36
    changed:
      description: Whether this image was (or in check mode would be) pulled and changed.
      type: bool
      sample: true
    reason:
      description: Why the image was (or would be) pulled, or not.
      type: str
      sample: the local image already carries the registry's digest
    pulled:
      description: Whether bytes were requested from the registry for this image.
      type: bool
      sample: true
    registry_digest:
      description: The registry's manifest digest, when O(pull=always) asked for it.
      type: str
      sample: sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb
    image:
      description: Inspect data of the image after the pull (before it, in check mode).
      type: dict
    attempts:
      description:
        - The failed attempts of this image's registry operations (reading the registry's digest, pulling), in
          order; empty when each worked at its first attempt. An image pulled at the third attempt has two entries.
      type: list
      elements: dict
      contains:
        operation:
          description: V(registry digest) or V(pull).
          type: str
        error:
          description: What the engine said.
          type: str
        transient:
          description: Whether the failure was taken as transient, and so retried (while O(retries) allowed).
          type: bool
        reason:
          description: Why the failure was (or was not) taken as transient.
          type: str
        wait:
          description: Seconds waited before the next attempt; absent when there was none.
          type: float
      sample:
        - operation: pull
          error: "received unexpected HTTP status: 503 Service Unavailable"
          transient: true
          reason: the registry answered with a server error (5xx)
          wait: 1.0
    progress:
      description: A compact summary of the engine's progress stream (final state counts per layer, messages).
      type: dict
      sample:
        layers: {Pull complete: 1}
        messages: ["Pulling from library/busybox", "Digest: sha256:5eef...", "Status: Downloaded newer image for busybox:1.36"]
"""

from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._common import Task, image_diff, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import EngineAPIError, InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._filters import IMAGE_LIST_FILTERS, serialize_filters
from ansible_collections.moby.engine.plugins.module_utils._references import (
    ImageReference,
    carries_digest,
    check_platform,
    parse_reference,
    platform_json,
    platform_matches,
)
from ansible_collections.moby.engine.plugins.module_utils._retry import (
    PARALLEL_MINIMUMS,
    PARALLEL_OPTIONS,
    RETRY_MINIMUMS,
    RETRY_OPTIONS,
    RetryPolicy,
    call_with_retries,
    results_or_raise,
    run_each,
)

OPTIONS = {
    "name": {"type": "list", "elements": "str", "required": True},
    "tag": {"type": "str", "default": "latest"},
    "platform": {"type": "str"},
    "all_tags": {"type": "bool", "default": False},
    # not_present is community.docker's word for missing.
    "pull": {"type": "str", "choices": ["missing", "always", "not_present"], "default": "missing"},
    **PARALLEL_OPTIONS,
    **RETRY_OPTIONS,
}
REQUIRES = {"all_tags": Requirement(feature="pull_all_tags")}


def decide(present: bool, pull: str, ref: ImageReference, image: dict | None, remote: str | None) -> tuple:
    """The idempotency decision for one image: (pull?, why).

    missing pulls only what is absent; always pulls when the registry's digest is not among the local
    image's RepoDigests; a digest reference never changes.
    """
    if not present:
        return True, "the image is not present (for this platform)"
    if ref.digest:
        return False, "the image is present, and what a digest names never changes"
    if pull in ("missing", "not_present"):
        return False, "the image is present"
    if remote is None:
        return True, "the registry's digest is unknown, so the pull itself asks the registry"
    if carries_digest(image, ref.familiar_repository, remote):
        return False, "the local image already carries the registry's digest"
    return True, "the registry has another digest than the local image"


def reference(name: str, params: dict) -> ImageReference:
    """The reference to pull for one element of name; raise InvalidInput for a bad one."""
    ref = parse_reference(name)
    if params["all_tags"]:
        if ref.tag or ref.digest:
            raise InvalidInput("{0!r} names a tag or digest, but all_tags pulls every tag of a repository".format(name))
        return ref
    return ref if ref.tag or ref.digest else ref.with_tag(params["tag"])


def validate(params: dict) -> None:
    """Bad names and platforms are reported before the engine is asked anything (or found to lack all_tags)."""
    check_platform(params["platform"])
    for name in params["name"]:
        reference(name, params)


class ImagePuller:
    """Decides, per reference, whether a pull is needed, and performs it."""

    def __init__(self, task: Task) -> None:
        self.client = task.client
        # Each registry gets only its own credentials; a registry_auth without serveraddress belongs to the only
        # registry the names use (and is refused when they use several).
        registries = [parse_reference(name).registry for name in task.params["name"]]
        self.creds = task.keep_secret(Credentials.from_params(task.params, registries=registries))
        self.params = task.params
        self.check_mode = task.check_mode
        self.policy = RetryPolicy.from_params(task.params)

    def reference(self, name: str) -> ImageReference:
        return reference(name, self.params)

    def pull_one(self, name: str) -> dict:
        ref = self.reference(name)
        if self.params["all_tags"]:
            return self.pull_all_tags(name, ref)
        selected = platform_json(self.params["platform"])
        before = self.client.inspect_image_for_platform(ref.familiar(), selected)
        present = before is not None and platform_matches(before, self.params["platform"])
        auth = self.creds.header_for(ref.registry)
        result = {"name": name, "pulled": False, "changed": False, "attempts": []}
        asks_registry = present and self.params["pull"] == "always" and not ref.digest
        if asks_registry:
            result["registry_digest"] = self.registry_digest(ref, auth, result["attempts"])
        need_pull, result["reason"] = decide(present, self.params["pull"], ref, before, result.get("registry_digest"))

        after = before
        if need_pull and self.check_mode:
            result["changed"] = True
        elif need_pull:
            tag = ref.digest or ref.tag
            result["progress"] = call_with_retries(
                lambda: self.client.pull_image(ref.familiar_repository, tag, auth, self.params["platform"]),
                self.policy, result["attempts"], "pull").as_dict()
            result["pulled"] = True
            after = self.client.inspect_image_for_platform(ref.familiar(), selected)
        result["image"] = after
        result["diff"] = image_diff(before, after)
        if result["pulled"]:
            # A new registry digest for the same image id is a change too: RepoDigests gained it, and check mode,
            # which cannot know the id before pulling, predicts a change from the digest alone.
            result["changed"] = not present or result["diff"]["before"] != result["diff"]["after"]
        return result

    def registry_digest(self, ref: ImageReference, auth: str, attempts: list) -> str | None:
        try:
            answer = call_with_retries(lambda: self.client.distribution_inspect(ref.familiar(), auth), self.policy,
                                       attempts, "registry digest")
        except EngineAPIError:
            # Unknown to the registry, or an engine without /distribution: the pull itself will say which.
            return None
        return (answer.get("Descriptor") or {}).get("digest")

    def pull_all_tags(self, name: str, ref: ImageReference) -> dict:
        before = self.tag_map(ref)
        result = {"name": name, "pulled": False, "changed": not before, "attempts": []}
        if not self.check_mode:
            auth = self.creds.header_for(ref.registry)
            result["progress"] = call_with_retries(
                lambda: self.client.pull_image(ref.familiar_repository, None, auth, self.params["platform"]),
                self.policy, result["attempts"], "pull").as_dict()
            result["pulled"] = True
            after = self.tag_map(ref)
            result["changed"] = after != before
            result["diff"] = {"before": before, "after": after}
        return result

    def tag_map(self, ref: ImageReference) -> dict:
        images = self.client.list_images(
            filters=serialize_filters({"reference": ref.familiar_repository}, IMAGE_LIST_FILTERS))
        return {tag: image["Id"] for image in images for tag in image.get("RepoTags") or []
                if tag.rpartition(":")[0] == ref.familiar_repository}

    def run(self) -> dict:
        names = self.params["name"]
        check_platform(self.params["platform"])
        for name in names:
            self.reference(name)
        results = results_or_raise(run_each(names, self.pull_one, self.params["parallel"]))
        diffs = [entry.pop("diff", None) for entry in results]
        output = {"changed": any(entry["changed"] for entry in results), "results": results,
                  "diff": diffs[0] if len(diffs) == 1 else diffs}
        if len(results) == 1 and "image" in results[0]:
            output["image"] = results[0]["image"]
        return output


def main() -> None:
    run_module(OPTIONS, lambda task: ImagePuller(task).run(), "Pulling {name} failed: {error}", registry=True,
               requires=REQUIRES, minimums=dict(PARALLEL_MINIMUMS, **RETRY_MINIMUMS), validate=validate)


if __name__ == "__main__":
    main()
