#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_push
short_description: Push an image to a registry, moving no bytes when the registry already has it
version_added: 0.1.0
description:
  - Pushes one tag of a local image to the registry named in the image's name (C(POST /images/{name}/push)).
  - Before pushing, the module asks the engine for the registry's current manifest digest of the tag
    (C(GET /distribution/{name}/json), with the same credentials). When the local image already carries that
    digest in its C(RepoDigests) for this repository, the registry holds exactly this image under this tag, so
    nothing is pushed and the task reports no change.
  - Otherwise the tag is pushed and the task reports a change; RV(digest) and RV(size) come from the engine's
    report of the push, RV(layers) says which layers were uploaded, already existed or were mounted from another
    repository of the same registry.
  - The image's name must include the registry, as V(registry.example.com:5000/team/app:tag) (a name without one
    means Docker Hub). To push a local image such as V(app:latest), tag it with the registry's name first using
    M(moby.engine.image_tag), as in the examples.
  - Podman's service has no C(GET /distribution/{name}/json), so there the registry's digest is unknown; the
    image is pushed on every run (layers the registry has are not sent again), the task always reports a change,
    and a warning says why. RV(registry_digest) is then null.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.REGISTRY
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  check_mode:
    details: Asks the registry for its digest as a real run does and pushes nothing.
  diff_mode:
    details: The registry's manifest digest of the tag before and after.
options:
  name:
    description:
      - The local image to push, as V(registry/repository) or V(registry/repository:tag).
      - A digest (V(@sha256:...)) is not accepted, because a push always sends a tag.
    type: str
    required: true
  tag:
    description:
      - Tag to push when O(name) carries none; V(latest) when neither gives one.
      - When O(name) carries a tag too, both must be the same.
    type: str
  all_tags:
    description:
      - Push every local tag of the repository O(name) (which then carries no tag, and O(tag) is not set).
      - Each tag is decided on its own, so tags the registry already holds with the same content move no bytes;
        the result lists them in RV(results).
    type: bool
    default: false
notes:
  - Credentials are needed both to read the registry's digest and to push; both use the same ones, so a
    registry that refuses them makes the task fail in check mode as in a real run.
  - A tag that the registry holds with the same content but that the engine did not push or pull itself
    (for example pushed by another host) is pushed once; the push uploads no layers, and afterwards the
    engine knows the digest and the next run reports no change.
seealso:
  - module: moby.engine.image_tag
  - module: moby.engine.image_pull
"""

EXAMPLES = r"""
- name: Push a release to the team registry
  moby.engine.image_push:
    name: registry.example.com:5000/team/app:2.3.1
    registry_auth:
      username: ci
      password: "{{ registry_password }}"

- name: Push a locally built image - tag it with the registry's name first
  block:
    - name: Name the local image for the registry
      moby.engine.image_tag:
        name: app:latest
        repository: registry.example.com:5000/team/app
        tag: "{{ app_version }}"

    - name: Push that tag, with credentials from ~/.docker/config.json (auths, credsStore or credHelpers)
      moby.engine.image_push:
        name: registry.example.com:5000/team/app
        tag: "{{ app_version }}"

- name: See whether the registry is behind, without pushing
  moby.engine.image_push:
    name: registry.example.com:5000/team/app:stable
    docker_config: /etc/deploy/docker
  check_mode: true
  register: push_plan

- name: Push every local tag of the repository; tags the registry already holds move no bytes
  moby.engine.image_push:
    name: registry.example.com:5000/team/app
    all_tags: true
"""

RETURN = r"""
name:
  description: The reference pushed (or, in check mode, that would be pushed).
  returned: success, without O(all_tags)
  type: str
  sample: registry.example.com:5000/team/app:2.3.1
results:
  description: With O(all_tags), one entry per local tag, each with the keys returned for a single tag.
  returned: success, with O(all_tags)
  type: list
  elements: dict
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: success
  type: str
  sample: the registry holds this image under the tag
image:
  description: Inspect data of the local image, after the push (its C(RepoDigests) then include the pushed digest).
  returned: success
  type: dict
  sample:
    Id: sha256:31dc80af4ba61add93091a031e8389a3ebbb882bc16f328b7c89599b980abc3b
    RepoTags: [registry.example.com:5000/team/app:2.3.1]
    RepoDigests: [registry.example.com:5000/team/app@sha256:79fe937d91f477f81dfd9a2a0e04a37c75d0ef9498935725596c70b625de48a2]
pushed:
  description: Whether the tag was sent to the registry (false in check mode).
  returned: success
  type: bool
  sample: true
digest:
  description:
    - Manifest digest of the tag in the registry after the task.
    - V(null) in check mode when a push would be needed, because the engine computes the manifest while pushing.
  returned: success
  type: str
  sample: sha256:79fe937d91f477f81dfd9a2a0e04a37c75d0ef9498935725596c70b625de48a2
size:
  description: Size in bytes of the manifest RV(digest) names, when known.
  returned: success
  type: int
  sample: 523
registry_digest:
  description: Manifest digest of the tag in the registry before the task; V(null) when the registry did not have the tag,
    or when the engine cannot tell (Podman).
  returned: success
  type: str
  sample: sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb
layers:
  description: Layer ids of the pushed image by what the push did with them. Empty lists when nothing was pushed.
  returned: success
  type: dict
  contains:
    pushed:
      description: Layers uploaded to the registry.
      type: list
      elements: str
      sample: [db16d52f3b98]
    existed:
      description: Layers the repository already had.
      type: list
      elements: str
      sample: []
    mounted:
      description: Layers the registry copied from another of its repositories instead of receiving them.
      type: list
      elements: str
      sample: []
    other:
      description: Layers whose last status in the stream was none of the above; present only when there are some.
      type: list
      elements: str
      sample: []
  sample:
    pushed: [db16d52f3b98]
    existed: []
    mounted: []
progress:
  description: A compact summary of the engine's progress stream (messages, final state counts per layer, aux data).
  returned: when pushed
  type: dict
  sample:
    messages: ["The push refers to repository [registry.example.com:5000/team/app]",
               "2.3.1: digest: sha256:79fe937d91f477f81dfd9a2a0e04a37c75d0ef9498935725596c70b625de48a2 size: 523"]
    layers: {Pushed: 1}
    aux: [{Tag: 2.3.1, Digest: "sha256:79fe937d91f477f81dfd9a2a0e04a37c75d0ef9498935725596c70b625de48a2", Size: 523}]
"""

from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    EndpointMissing,
    EngineAPIError,
    InvalidInput,
    NotFound,
)
from ansible_collections.moby.engine.plugins.module_utils._filters import IMAGE_LIST_FILTERS, serialize_filters
from ansible_collections.moby.engine.plugins.module_utils._references import (
    DEFAULT_TAG,
    ImageReference,
    carries_digest,
    parse_reference,
)

OPTIONS = {
    "name": {"type": "str", "required": True},
    "tag": {"type": "str"},
    "all_tags": {"type": "bool", "default": False},
}


def decide(ref: ImageReference, image: dict, remote_digest: str | None) -> tuple:
    """The idempotency decision for one tag: (push?, why).

    The engine records in RepoDigests every manifest digest it pushed or pulled for this image and
    repository, so when the registry's digest for the tag is among them, the registry already holds
    exactly this image under this tag and there is nothing to push.
    """
    if remote_digest is None:
        return True, "the registry does not have the tag, or cannot say which digest it has"
    if carries_digest(image, ref.familiar_repository, remote_digest):
        return False, "the registry holds this image under the tag"
    return True, "the registry holds another image under the tag"


class ImagePusher:
    """Decides whether the registry already holds the image under the tag, and pushes when not."""

    def __init__(self, task: Task) -> None:
        self.client = task.client
        self.creds = task.keep_secret(Credentials.from_params(task.params))
        self.params = task.params
        self.check_mode = task.check_mode
        self.warn = task.warn

    def reference(self) -> ImageReference:
        name, tag = self.params["name"], self.params["tag"]
        ref = parse_reference(name)
        if ref.digest:
            raise InvalidInput("{0!r} names a digest; a push sends a tag, so name the tag instead".format(name))
        if tag is not None:
            # Parsing repository:tag validates the tag with the reference grammar.
            tagged = parse_reference("{0}:{1}".format(ref.familiar_repository, tag))
            if ref.tag and ref.tag != tagged.tag:
                raise InvalidInput("name {0!r} carries the tag {1!r} but tag is {2!r}; give the tag once".format(
                    name, ref.tag, tag))
            return tagged
        return ref if ref.tag else ref.with_tag(DEFAULT_TAG)

    def references(self) -> list:
        """The tags to push: the one named, or with all_tags every local tag of the repository."""
        if not self.params["all_tags"]:
            return [self.reference()]
        repository = parse_reference(self.params["name"])
        if repository.tag or repository.digest or self.params["tag"] is not None:
            raise InvalidInput("all_tags pushes every local tag of a repository: give name {0!r} without a tag, and "
                               "no tag option".format(repository.familiar_repository))
        images = self.client.list_images(filters=serialize_filters(
            {"reference": repository.familiar_repository}, IMAGE_LIST_FILTERS))
        tags = sorted({tag for image in images for tag in image.get("RepoTags") or []
                       if tag.rpartition(":")[0] == repository.familiar_repository})
        if not tags:
            raise NotFound("the engine has no image tagged in the repository {0}; tag the images to push first "
                           "(moby.engine.image_tag)".format(repository.familiar_repository))
        return [parse_reference(tag) for tag in tags]

    def run(self) -> dict:
        results = [self.push_one(ref) for ref in self.references()]
        if not self.params["all_tags"]:
            return results[0]
        diffs = [result.pop("diff") for result in results]
        return {"changed": any(result["changed"] for result in results), "results": results,
                "diff": {"before": [diff["before"] for diff in diffs], "after": [diff["after"] for diff in diffs]}}

    def push_one(self, ref: ImageReference) -> dict:
        before = self.client.inspect_image(ref.familiar_tagged())
        if before is None:
            raise NotFound(
                "the engine has no image named {0}. Only a local image whose name includes the registry can be "
                "pushed: give the local image that name first (moby.engine.image_tag with repository: {0}), "
                "then push it".format(ref.familiar_tagged()))
        header = self.creds.header_for(ref.registry)
        remote = self.registry_descriptor(ref, header)
        remote_digest = remote.get("digest")

        push, reason = decide(ref, before, remote_digest)
        in_registry = not push
        result = {"name": ref.familiar_tagged(), "changed": push, "reason": reason, "pushed": False, "image": before,
                  "registry_digest": remote_digest,
                  "digest": None, "size": None, "layers": layer_summary({})}
        if in_registry:
            result.update(digest=remote_digest, size=remote.get("size"))
        if not in_registry and not self.check_mode:
            summary = self.client.push_image(ref.familiar_repository, ref.tag, header)
            pushed = next((aux for aux in summary.aux if aux.get("Digest")), {})
            result.update(pushed=True, digest=pushed.get("Digest"), size=pushed.get("Size"),
                          layers=layer_summary(summary.layers), progress=summary.as_dict(),
                          image=self.client.inspect_image(before["Id"]))
        result["diff"] = {
            "before": {"reference": ref.familiar_tagged(), "digest": remote_digest},
            "after": {"reference": ref.familiar_tagged(),
                      "digest": result["digest"] or "(a new manifest, computed by the push)"},
        }
        return result

    def registry_descriptor(self, ref: ImageReference, header: str) -> dict:
        """The registry's descriptor of ref's manifest; empty when the registry does not have the tag."""
        try:
            return self.client.distribution_inspect(ref.familiar_tagged(), header).get("Descriptor") or {}
        except EndpointMissing as exc:
            # Without the registry's digest nothing proves the registry holds this image: push (layers the
            # registry has are not sent again), and say why the task reports a change every time.
            self.warn("{0}, so the registry's digest of {1} is unknown: the image is pushed on every "
                                 "run and the task always reports a change".format(exc, ref.familiar_tagged()))
            return {}
        except NotFound:
            return {}
        except AuthenticationFailed:
            # The client already added what to check about the credentials.
            raise
        except EngineAPIError as exc:
            raise EngineAPIError("cannot read the digest of {0} from the registry {1}: {2}. Check that the registry "
                                 "is running and that the engine can reach it".format(
                                     ref.familiar_tagged(), ref.registry, exc), status=exc.status)


def layer_summary(layers: dict) -> dict:
    """Layer ids grouped by the final status the push stream gave them."""
    summary: dict = {"pushed": [], "existed": [], "mounted": []}
    for layer, status in sorted(layers.items()):
        if status == "Pushed":
            summary["pushed"].append(layer)
        elif status == "Layer already exists":
            summary["existed"].append(layer)
        elif status.startswith("Mounted from"):
            summary["mounted"].append(layer)
        else:
            summary.setdefault("other", []).append(layer)
    return summary


def main() -> None:
    run_module(OPTIONS, lambda task: ImagePusher(task).run(), "Pushing {name} failed: {error}", registry=True)


if __name__ == "__main__":
    main()
