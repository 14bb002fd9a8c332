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
  - With O(destinations) the module promotes one local image to several registries at once. It names the local image
    O(name) as each destination (as M(moby.engine.image_tag) does - only when the name is missing or points at another
    image), decides per destination as above whether that registry already holds the image under the tag, pushes those
    that do not (O(parallel) at a time), each with its own registry's credentials, and finally reads every destination's
    manifest digest again. The task fails, naming the destination, unless every registry holds the manifest its push
    reported and all hold the same one. Destinations that are current move no bytes. RV(destinations) reports each one.
  - With O(platform), only that platform's manifest of a multi-platform image is pushed, and the tag in the registry
    then names that single manifest. The registry is current when its digest for the tag is the digest of the local
    platform manifest (from C(GET /images/{name}/json?platform=...)).
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.REGISTRY
  - moby.engine.engine.RETRY
  - moby.engine.engine.ACTION_ATTRIBUTES
attributes:
  check_mode:
    details: Asks the registry for its digest as a real run does and pushes nothing.
  diff_mode:
    details:
      - The registry's manifest digest of the tag before and after.
      - With O(destinations), one entry per destination, with the id its local name pointed at before and after.
options:
  name:
    description:
      - The local image to push, as V(registry/repository) or V(registry/repository:tag).
      - A digest (V(@sha256:...)) is not accepted, because a push always sends a tag.
      - With O(destinations), the local image to promote; its name then need not include a registry
        (V(app:2.3.1)), and it is not pushed under that name itself.
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
  destinations:
    description:
      - Push the local image O(name) (with O(tag)) to each of these references, V(registry/repository:tag), for example
        a staging and a production registry. A destination without a tag gets the tag of O(name).
      - Each registry gets only its own credentials - its entry of O(registry_auths), or of C(config.json). A single
        O(registry_auth) goes only to the registry its O(registry_auth.serveraddress) names; without one it is
        accepted only when every destination is in the same registry.
      - In check mode nothing is tagged or pushed; each destination's decision is predicted from its registry's
        digest, and the final comparison of the registries is not made.
      - Cannot be used with O(all_tags).
    type: list
    elements: str
  parallel:
    description: With O(destinations), how many destinations are pushed at the same time (1 or more).
    type: int
    default: 4
  platform:
    description:
      - Push only this platform (V(os[/arch[/variant]]), for example V(linux/arm64)) of a multi-platform image; the
        registry's tag then names that platform's manifest alone, not the image's index. Spellings are normalised as
        the engine does (V(linux/aarch64) is V(linux/arm64)).
      - The platform's content must be present locally (pull it with M(moby.engine.image_pull) and O(platform)),
        else the task fails before pushing anything.
      - Needs engine API 1.46 (Docker 27.0 or later); older engines and Podman fail naming the option and their
        version, before anything is pushed. Several platforms per image exist only on an engine using the
        containerd image store; with the classic store the image has one platform, which must be this one.
      - A rerun reports no change when the registry's digest for the tag is the local platform manifest's digest;
        the engine tells that digest from API 1.49 (Docker 28.1) on. With an older engine and a multi-platform image
        the manifest is pushed on every run (moving no layer twice).
      - Works with O(all_tags) and O(destinations) too; each tag or destination gets that platform's manifest.
    type: str
    version_added: 0.1.0
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

- name: Promote a tested build to the staging and the production registry, each with its own credentials
  moby.engine.image_push:
    name: app:2.3.1
    destinations:
      - staging.example.com:5000/team/app
      - registry.example.com/team/app:2.3.1
      - registry.example.com/team/app:stable
    registry_auths:
      staging.example.com:5000:
        username: ci
        password: "{{ staging_password }}"
      registry.example.com:
        username: release
        password: "{{ release_password }}"
    retries: 3
  register: promoted

- name: Show which destinations moved bytes
  ansible.builtin.debug:
    msg: "{{ promoted.destinations | selectattr('pushed') | map(attribute='name') | list }}"

- name: Push only the arm64 manifest of a multi-platform image (the tag in the registry then names it alone)
  moby.engine.image_push:
    name: registry.example.com:5000/team/app:2.3.1-arm64
    platform: linux/arm64

- name: Push every local tag of the repository; tags the registry already holds move no bytes
  moby.engine.image_push:
    name: registry.example.com:5000/team/app
    all_tags: true
"""

RETURN = r"""
name:
  description: The reference pushed (or, in check mode, that would be pushed); with O(destinations), the local image promoted.
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
    With O(destinations), of the image promoted. With O(platform), of that platform (its C(Id) is then the platform
    manifest's digest on the containerd image store).
  returned: success
  type: dict
  sample:
    Id: sha256:31dc80af4ba61add93091a031e8389a3ebbb882bc16f328b7c89599b980abc3b
    RepoTags: [registry.example.com:5000/team/app:2.3.1]
    RepoDigests: [registry.example.com:5000/team/app@sha256:79fe937d91f477f81dfd9a2a0e04a37c75d0ef9498935725596c70b625de48a2]
pushed:
  description: Whether the tag was sent to the registry (false in check mode).
  returned: success, without O(destinations)
  type: bool
  sample: true
digest:
  description:
    - Manifest digest of the tag in the registry after the task.
    - V(null) in check mode when a push would be needed, because the engine computes the manifest while pushing.
    - With O(destinations), the digest every destination's registry holds (V(null) in check mode).
  returned: success
  type: str
  sample: sha256:79fe937d91f477f81dfd9a2a0e04a37c75d0ef9498935725596c70b625de48a2
size:
  description: Size in bytes of the manifest RV(digest) names, when known.
  returned: success, without O(destinations)
  type: int
  sample: 523
attempts:
  description:
    - The failed attempts of the registry operations for this tag (reading the registry's digest, pushing), in order;
      empty when each worked at its first attempt. See O(retries).
    - Each entry has C(operation), C(error), C(transient), C(reason), and C(wait) (seconds waited before the next
      attempt) when it was retried.
  returned: success, without O(destinations)
  type: list
  elements: dict
  sample:
    - operation: push
      error: "received unexpected HTTP status: 503 Service Unavailable"
      transient: true
      reason: the registry answered with a server error (5xx)
      wait: 1.0
destinations:
  description: With O(destinations), one entry per destination, in the order given.
  returned: success, with O(destinations)
  type: list
  elements: dict
  contains:
    name:
      description: The destination, with its tag.
      type: str
      sample: registry.example.com/team/app:2.3.1
    changed:
      description: Whether the destination's local name or its registry was (or in check mode would be) changed.
      type: bool
    reason:
      description: Why, for the local name and for the registry.
      type: str
      sample: the local name is missing; the registry does not have the tag, or cannot say which digest it has
    tagged:
      description: Whether the local image was (or would be) given the destination's name.
      type: bool
    pushed:
      description: Whether the destination was pushed (false in check mode).
      type: bool
    digest:
      description: Manifest digest in the destination's registry after the task (V(null) in check mode when a push is
        needed).
      type: str
    registry_digest:
      description: Manifest digest the destination's registry held before the task.
      type: str
    verified_digest:
      description: Manifest digest read again from the registry after every push (not in check mode).
      type: str
    size:
      description: Size in bytes of the manifest RV(destinations[].digest) names, when known.
      type: int
    layers:
      description: Like RV(layers), for this destination.
      type: dict
    attempts:
      description: Like RV(attempts), for this destination.
      type: list
      elements: dict
    progress:
      description: Like RV(progress), when the destination was pushed.
      type: dict
registry_digest:
  description: Manifest digest of the tag in the registry before the task; V(null) when the registry did not have the tag,
    or when the engine cannot tell (Podman).
  returned: success, without O(destinations)
  type: str
  sample: sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb
layers:
  description: Layer ids of the pushed image by what the push did with them. Empty lists when nothing was pushed.
  returned: success, without O(destinations)
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

from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    EndpointMissing,
    EngineAPIError,
    InvalidInput,
    MobyEngineError,
    NotFound,
)
from ansible_collections.moby.engine.plugins.module_utils._filters import IMAGE_LIST_FILTERS, serialize_filters
from ansible_collections.moby.engine.plugins.module_utils._pushes import (
    decide_tag,
    destination_references,
    disagreements,
    layer_summary,
    manifest_digest,
)
from ansible_collections.moby.engine.plugins.module_utils._references import (
    DEFAULT_TAG,
    ImageReference,
    carries_digest,
    check_platform,
    parse_reference,
    platform_json,
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
    "name": {"type": "str", "required": True},
    "tag": {"type": "str"},
    "all_tags": {"type": "bool", "default": False},
    "destinations": {"type": "list", "elements": "str"},
    "platform": {"type": "str"},
    **PARALLEL_OPTIONS,
    **RETRY_OPTIONS,
}
REQUIRES = {"platform": Requirement(api="1.46")}
UNKNOWN_DIGEST = "(a new manifest, computed by the push)"


def decide(ref: ImageReference, image: dict, remote_digest: str | None, platform: str | None = None) -> tuple:
    """The idempotency decision for one tag: (push?, why).

    The engine records in RepoDigests every manifest digest it pushed or pulled for this image and
    repository, so when the registry's digest for the tag is among them, the registry already holds
    exactly this image under this tag and there is nothing to push.

    With ``platform``, ``image`` is that platform's inspect data: a push sends its manifest alone, so the registry
    is current only when its digest is that manifest's. The engine records no RepoDigests for such a push; where it
    does not say which manifest the platform is (no manifest Descriptor: the classic store, whose images have one
    platform), RepoDigests decide as without a platform - unless the image is an index, whose digest is not the
    platform's.
    """
    if remote_digest is None:
        return True, "the registry does not have the tag, or cannot say which digest it has"
    if platform:
        local = manifest_digest(image)
        if local is not None:
            if remote_digest == local:
                return False, "the registry holds the {0} manifest under the tag".format(platform)
            return True, "the registry holds another manifest under the tag than the {0} one".format(platform)
        if (image.get("Descriptor") or {}).get("digest"):
            return True, ("the engine does not say which manifest {0} is (API 1.49 needed), so the registry's "
                          "digest cannot be compared".format(platform))
    if carries_digest(image, ref.familiar_repository, remote_digest):
        return False, "the registry holds this image under the tag"
    return True, "the registry holds another image under the tag"


def destination_credentials(params: dict, refs: list) -> Credentials:
    """Credentials for promotion: each destination's registry gets its own entry, and only that.

    A single ``registry_auth`` belongs to the registry its ``serveraddress`` names; without one, it is accepted only
    when every destination is in the same registry (Credentials decides, from the registries named here).
    """
    return Credentials.from_params(params, registries=[ref.registry for ref in refs])


class ImagePusher:
    """Decides whether the registry already holds the image under the tag, and pushes when not."""

    def __init__(self, task: Task) -> None:
        self.client = task.client
        self.params = task.params
        self.check_mode = task.check_mode
        self.warn = task.warn
        self.policy = RetryPolicy.from_params(task.params)
        self.keep_secret = task.keep_secret
        self.creds: Optional[Credentials] = None

    def credentials(self, creds: Credentials) -> Credentials:
        """Keep the credentials: run_module masks their secrets and reports their warnings."""
        return self.keep_secret(creds)

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
        if self.params["destinations"]:
            return self.promote()
        self.creds = self.credentials(Credentials.from_params(
            self.params, registries=[parse_reference(self.params["name"]).registry]))
        results = [self.push_one(ref) for ref in self.references()]
        if not self.params["all_tags"]:
            return results[0]
        diffs = [result.pop("diff") for result in results]
        return {"changed": any(result["changed"] for result in results), "results": results,
                "diff": {"before": [diff["before"] for diff in diffs], "after": [diff["after"] for diff in diffs]}}

    # -- one tag -------------------------------------------------------------

    def push_one(self, ref: ImageReference, before: Optional[dict] = None, creds: Optional[Credentials] = None) -> dict:
        """Push one tag when the registry does not hold the image under it; ``before`` is the local image."""
        if before is None:
            before = self.client.inspect_image(ref.familiar_tagged())
        if before is None:
            raise NotFound(
                "the engine has no image named {0}. Only a local image whose name includes the registry can be "
                "pushed: give the local image that name first (moby.engine.image_tag with repository: {0}), "
                "then push it".format(ref.familiar_tagged()))
        platform, image_id = self.params["platform"], before["Id"]
        if platform:
            before = self.platform_image(ref, image_id)
        header = (creds or self.creds).header_for(ref.registry)  # type: ignore[union-attr]
        attempts: list = []
        remote = self.registry_descriptor(ref, header, attempts)
        remote_digest = remote.get("digest")

        push, reason = decide(ref, before, remote_digest, platform)
        in_registry = not push
        result: dict[str, Any] = {"name": ref.familiar_tagged(), "changed": push, "reason": reason, "pushed": False,
                                  "image": before, "registry_digest": remote_digest, "digest": None, "size": None,
                                  "layers": layer_summary({}), "attempts": attempts}
        if in_registry:
            result.update(digest=remote_digest, size=remote.get("size"))
        if not in_registry and not self.check_mode:
            summary = call_with_retries(
                lambda: self.client.push_image(ref.familiar_repository, ref.tag, header, platform_json(platform)),
                self.policy, attempts, "push")
            pushed = next((aux for aux in summary.aux if aux.get("Digest")), {})
            result.update(pushed=True, digest=pushed.get("Digest"), size=pushed.get("Size"),
                          layers=layer_summary(summary.layers), progress=summary.as_dict(),
                          image=self.platform_image(ref, image_id) if platform else self.client.inspect_image(image_id))
        result["diff"] = {
            "before": {"reference": ref.familiar_tagged(), "digest": remote_digest},
            "after": {"reference": ref.familiar_tagged(), "digest": result["digest"] or UNKNOWN_DIGEST},
        }
        if platform:
            for side in result["diff"].values():
                side["platform"] = platform
        return result

    def platform_image(self, ref: ImageReference, image_id: str) -> dict:
        """The inspect data of the platform to push of the local image ``image_id`` (to be pushed as ``ref``).

        From API 1.49 the engine answers for the platform (404 when its content is absent); before, with the image's
        own data, which the engine checks against the platform when it pushes."""
        name = ref.familiar_tagged()
        found = self.client.inspect_image_for_platform(image_id, platform_json(self.params["platform"]))
        if found is None:
            raise NotFound("the engine has {0}, but not the content of its platform {1}: pull that platform first "
                           "(moby.engine.image_pull with platform: {1})".format(name, self.params["platform"]))
        return found

    def registry_descriptor(self, ref: ImageReference, header: str, attempts: list) -> dict:
        """The registry's descriptor of ref's manifest; empty when the registry does not have the tag."""
        try:
            answer = call_with_retries(lambda: self.client.distribution_inspect(ref.familiar_tagged(), header),
                                       self.policy, attempts, "registry digest", answers=(NotFound,))
            return answer.get("Descriptor") or {}
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

    # -- promotion to several registries -------------------------------------

    def promote(self) -> dict:
        """Name the local image as every destination, push those the registries lack, then check they agree."""
        if self.params["all_tags"]:
            raise InvalidInput("all_tags and destinations cannot be used together")
        source_ref = self.reference()
        refs = destination_references(self.params["destinations"], source_ref)
        creds = self.credentials(destination_credentials(dict(self.params), refs))
        source = self.client.inspect_image(source_ref.familiar_tagged())
        if source is None:
            raise NotFound("the engine has no image named {0} to push to the destinations".format(
                source_ref.familiar_tagged()))
        results = results_or_raise(run_each(refs, lambda ref: self.promote_one(source, ref, creds),
                                            self.params["parallel"]), lambda ref: ref.familiar_tagged())
        digest = None
        if not self.check_mode:
            digest = self.verify(refs, results, creds)
        diffs = [result.pop("diff") for result in results]
        changed = [result["name"] for result in results if result["changed"]]
        return {
            "changed": bool(changed), "name": source_ref.familiar_tagged(), "digest": digest,
            "reason": "destinations to update: {0} of {1}".format(len(changed), len(results)) if changed else
            "every destination's registry holds the image under its tag",
            "image": self.client.inspect_image(source["Id"]) if changed and not self.check_mode else source,
            "destinations": results,
            "diff": {"before": [diff["before"] for diff in diffs], "after": [diff["after"] for diff in diffs]},
        }

    def promote_one(self, source: dict, ref: ImageReference, creds: Credentials) -> dict:
        current = self.client.inspect_image(ref.familiar_tagged())
        current_id = current["Id"] if current else None
        tag, tag_reason = decide_tag(current_id, source["Id"])
        if tag and not self.check_mode:
            self.client.tag_image(source["Id"], ref.familiar_repository, ref.tag)
        result = self.push_one(ref, before=source, creds=creds)
        result.pop("image", None)
        result.update(tagged=tag, changed=result["changed"] or tag,
                      reason="{0}; {1}".format(tag_reason, result["reason"]))
        result["diff"]["before"]["local_image"] = current_id
        result["diff"]["after"]["local_image"] = source["Id"]
        return result

    def verify(self, refs: list, results: list, creds: Credentials) -> str | None:
        """Read every destination's digest again; fail unless each holds what was pushed, and all the same."""
        def read(ref: ImageReference) -> str | None:
            answer = call_with_retries(
                lambda: self.client.distribution_inspect(ref.familiar_tagged(), creds.header_for(ref.registry)),
                self.policy, [], "verify")
            return (answer.get("Descriptor") or {}).get("digest")

        try:
            digests = results_or_raise(run_each(refs, read, self.params["parallel"]), lambda ref: ref.familiar_tagged())
        except EndpointMissing as exc:
            self.warn("{0}, so whether every destination holds the same manifest was not checked".format(exc))
            return None
        read_digests = {ref.familiar_tagged(): digest for ref, digest in zip(refs, digests)}
        for result in results:
            result["verified_digest"] = read_digests[result["name"]]
        problems = disagreements({result["name"]: result["digest"] for result in results}, read_digests)
        if problems:
            raise MobyEngineError("the destinations do not hold the same image after the push: " + "; ".join(problems))
        return next(iter(read_digests.values()), None)


def failure(params: dict, error: str) -> str:
    if params.get("destinations"):
        return "Pushing {0} to {1} failed: {2}".format(params["name"], ", ".join(params["destinations"]), error)
    return "Pushing {0} failed: {1}".format(params["name"], error)


def validate(params: dict) -> None:
    check_platform(params["platform"])


def main() -> None:
    run_module(OPTIONS, lambda task: ImagePusher(task).run(), failure, registry=True, requires=REQUIRES,
               minimums=dict(PARALLEL_MINIMUMS, **RETRY_MINIMUMS), validate=validate,
               mutually_exclusive=[["all_tags", "destinations"]])


if __name__ == "__main__":
    main()
