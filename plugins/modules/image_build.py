#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_build
short_description: Build an image on a Docker engine, only when its inputs changed
version_added: 0.1.0
description:
  - Builds an image from a local context directory or a remote context (C(POST /build)).
  - The context is streamed to the engine as a tar with chunked transfer; it is never held in memory or copied to disk.
    C(.dockerignore) follows Docker's rules (C(*), C(**), C(?), C(!) exceptions, a leading C(/), C(#) comments);
    the Dockerfile and C(.dockerignore) are always sent, symlinks are sent as symlinks, permission bits and
    modification times are kept, and files are owned by root in the upload, as with the docker CLI.
    Sockets, FIFOs and device files are not sent.
  - With O(rebuild=changed) the module computes a digest over everything that determines the build (see O(rebuild))
    and stores it on the image in the label C(moby.engine.build.digest). When O(name) already carries the same digest
    the build is skipped and no context is uploaded.
  - Tasks building the same O(name) on the same engine from one managed host (parallel forks) take turns, through
    a lock file in the temporary directory; the first builds, the others then find its result and build nothing.
  - "What the engine's classic builder API cannot do, and this module therefore does not offer: BuildKit secrets
    (C(RUN --mount=type=secret)), SSH agent forwarding (C(RUN --mount=type=ssh)), cache mounts, and images for
    several platforms at once (multi-platform manifest lists). One build produces one image for one platform."
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
      - The image this task builds and manages, as V(repo) or V(repo:tag) (default tag V(latest)).
      - Whether to build is decided by comparing against this image.
    type: str
    required: true
  tag:
    description:
      - Tag of O(name) when O(name) carries none (V(latest) when neither gives one); when O(name) carries a tag too,
        both must be the same.
    type: str
  tags:
    description: Further V(repo[:tag]) references given to the same build (query parameter C(t)).
    type: list
    elements: str
    default: []
  path:
    description:
      - Build context directory on the managed host.
      - Exactly one of O(path) and O(remote) is required.
    type: path
  remote:
    description:
      - A Git repository URL or an HTTP(S) URL of a tarball or Dockerfile, which the engine fetches itself.
      - A remote context cannot be digested locally, so O(rebuild=changed) then behaves like O(rebuild=always);
        the result says so in RV(reason).
    type: str
  dockerfile:
    description:
      - The Dockerfile. A relative path is relative to O(path); an absolute path may point inside or outside the context.
      - A Dockerfile outside the context is added to the upload under a hidden name (C(.dockerfile.<hash>)).
      - With O(remote), a path inside the remote context.
    type: str
    default: Dockerfile
  rebuild:
    description:
      - V(changed) builds when O(name) is missing or does not carry the digest of the current inputs. The digest covers
        the files of the context that survive C(.dockerignore) (path, type, permission bits, content, but not modification
        times), the Dockerfile, O(build_args), O(target), O(platform), O(labels) and the ids of the base images
        (C(FROM)) that are present locally. A base image that is missing locally is pulled before the digest is
        computed, with the same credentials the build would use.
      - V(never) builds only when O(name) is missing.
      - V(always) builds every time; the task reports a change only when O(name) then points at another image id.
    type: str
    choices: [changed, always, never]
    default: changed
  build_args:
    description:
      - Build-time variables (C(ARG)), as a dict of names to strings or numbers.
      - They are visible in the image's history; never pass secrets this way.
    type: dict
    aliases: [args]
  labels:
    description: Labels to set on the image (the module adds C(moby.engine.build.digest)).
    type: dict
  target:
    description: Build stage to stop at, in a multi-stage Dockerfile.
    type: str
  platform:
    description: Platform to build for, as V(os[/arch[/variant]]). Needs an engine that can run it.
    type: str
  network_mode:
    description: Network of the C(RUN) steps (V(bridge), V(host), V(none), V(container:<name|id>) or a network name).
    type: str
    aliases: [network]
  extra_hosts:
    description: Extra C(/etc/hosts) entries for the C(RUN) steps, as a dict of host name to IP address.
    type: dict
    aliases: [etc_hosts]
  cache_from:
    description: Images to use as cache sources.
    type: list
    elements: str
  nocache:
    description: Do not use the build cache.
    type: bool
    default: false
  pull:
    description: Pull newer versions of the base images even when they are present locally.
    type: bool
    default: false
  rm:
    description: Remove intermediate containers after a successful build.
    type: bool
    default: true
  forcerm:
    description:
      - Remove intermediate containers even when the build fails.
      - The default differs from the docker CLI's C(--force-rm=false) so that a failed task leaves no stopped
        container behind. Set V(false) to keep the failed step's container for debugging.
    type: bool
    default: true
  squash:
    description: Squash the new layers into one. Needs an engine with experimental features enabled.
    type: bool
  shm_size:
    description: Size of C(/dev/shm) in the C(RUN) containers, in bytes or as V(64m), V(1g).
    type: raw
  memory:
    description: Memory limit of the C(RUN) containers, in bytes or as V(512m), V(2g).
    type: raw
  memswap:
    description: Memory plus swap limit of the C(RUN) containers, in bytes, as V(1g), or V(-1) for unlimited swap.
    type: raw
  cpu_shares:
    description: CPU shares (relative weight) of the C(RUN) containers.
    type: int
  cpuset_cpus:
    description: CPUs the C(RUN) containers may use, such as V(0-3) or V(0,1).
    type: str
  cpu_period:
    description: CPU CFS period of the C(RUN) containers, in microseconds.
    type: int
  cpu_quota:
    description: CPU CFS quota of the C(RUN) containers, in microseconds per O(cpu_period).
    type: int
  outputs:
    description:
      - BuildKit output configuration, as a list of dicts with C(Type) (V(moby)) and C(Attrs).
      - Only BuildKit (O(builder=buildkit)) uses it; the classic builder ignores it.
      - Podman's service has no BuildKit and would ignore it, so on Podman the module fails when it is set.
    type: list
    elements: dict
  quiet:
    description: Ask the engine for a quiet build; RV(log) then holds only the image id.
    type: bool
    default: false
  builder:
    description:
      - V(classic) is the engine's first-generation builder (query parameter C(version=1)), the default of Docker 20.10.
      - V(buildkit) (C(version=2)) builds with BuildKit without a client session. Its step output then arrives in an
        encoded trace that this module does not decode, so RV(log) holds only the engine's plain messages, and
        BuildKit ignores C(X-Registry-Config), so private base images must already be present locally.
      - Podman's service has no BuildKit (it would build with Buildah instead), so V(buildkit) fails there.
    type: str
    choices: [classic, buildkit]
    default: classic
notes:
  - O(registry_auth) needs O(registry_auth.serveraddress) here, since a build may pull from several registries;
    it is then treated as one more entry of O(registry_auths).
  - In check mode nothing is uploaded or built, and base images missing locally are not pulled; a missing base image
    therefore counts as a change. With O(rebuild=always) check mode always predicts a change, since a build always
    runs and the resulting image id cannot be known without building.
  - O(retries) and O(retry_delay) apply to the pulls of missing base images the module makes before computing the
    build's digest; pulls the engine makes during the build itself (O(pull=true)) are not retried.
seealso:
  - module: moby.engine.build_cache_prune
  - module: moby.engine.image_info
"""

EXAMPLES = r"""
- name: Build the application image when its sources changed
  moby.engine.image_build:
    name: registry.example.com/team/app:2.3
    path: /srv/app
    build_args:
      APP_VERSION: "2.3"
    labels:
      org.opencontainers.image.source: https://git.example.com/team/app

- name: Build from a base image in a private registry, with a Dockerfile kept outside the context
  moby.engine.image_build:
    name: app:ci
    tags: [registry.example.com/team/app:ci]
    path: /srv/app
    dockerfile: /srv/dockerfiles/app.Dockerfile
    target: runtime
    memory: 2g
    registry_auths:
      registry.example.com:
        username: ci
        password: "{{ registry_password }}"

- name: Rebuild from a Git repository every time (remote contexts cannot be compared locally)
  moby.engine.image_build:
    name: tools:nightly
    remote: https://git.example.com/team/tools.git#main
    nocache: true
    rebuild: always

- name: Build only if the image does not exist yet
  moby.engine.image_build:
    name: fixtures/db:seed
    path: /srv/fixtures/db
    rebuild: never
"""

RETURN = r"""
image:
  description: Inspect data of the image O(name) after the task (before it, in check mode or when nothing was built).
  returned: success, when the image exists
  type: dict
  sample:
    Id: sha256:0a62c7f0e0b35f4f0a6e4d8e2c4b7e0d4f1d0b2b8b0e0b1b2f6c4a6b1e9c1d2e
    RepoTags: [app:ci]
    Config:
      Labels:
        moby.engine.build.digest: sha256:6f1c5e5a0e1f4f7e9a0c0c3f8f9b6f2a3d4c5b6a7e8f9a0b1c2d3e4f5a6b7c8d
built:
  description: Whether a build was run (never in check mode).
  returned: always
  type: bool
  sample: true
digest:
  description:
    - Digest of the build inputs, stored in the image label C(moby.engine.build.digest).
    - V(null) for a remote context, and when O(rebuild=never) found the image present (nothing was computed).
  returned: always
  type: str
  sample: sha256:6f1c5e5a0e1f4f7e9a0c0c3f8f9b6f2a3d4c5b6a7e8f9a0b1c2d3e4f5a6b7c8d
reason:
  description: Why the module built, or did not build.
  returned: always
  type: str
  sample: the image already carries the digest of these inputs
log:
  description: The build's output, one line per element (the engine's C(stream) messages, trimmed).
  returned: always
  type: list
  elements: str
  sample: ["Step 1/2 : FROM busybox:1.36", " ---> 3f57d9401f8d", "Step 2/2 : COPY app /app", "Successfully built 0a62c7f0e0b3"]
context_bytes:
  description: Bytes of build context uploaded to the engine (0 when nothing was built, or with O(remote)).
  returned: always
  type: int
  sample: 10240
tagged:
  description: References of O(tags) that were moved to the image without a build, because only they were out of date.
  returned: always
  type: list
  elements: str
  sample: []
"""

import json
from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._build_context import (
    DIGEST_LABEL,
    BuildContext,
    base_images,
)
from ansible_collections.moby.engine.plugins.module_utils._common import Task, image_diff, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, MobyEngineError
from ansible_collections.moby.engine.plugins.module_utils._files import parse_size
from ansible_collections.moby.engine.plugins.module_utils._locks import host_lock
from ansible_collections.moby.engine.plugins.module_utils._references import ImageReference, parse_reference
from ansible_collections.moby.engine.plugins.module_utils._retry import RETRY_OPTIONS, RetryPolicy, call_with_retries

BUILDER_VERSIONS = {"classic": "1", "buildkit": "2"}

OPTIONS = {
    "name": {"type": "str", "required": True},
    "tag": {"type": "str"},
    "tags": {"type": "list", "elements": "str", "default": []},
    "path": {"type": "path"},
    "remote": {"type": "str"},
    "dockerfile": {"type": "str", "default": "Dockerfile"},
    "rebuild": {"type": "str", "choices": ["changed", "always", "never"], "default": "changed"},
    "build_args": {"type": "dict", "aliases": ["args"]},
    "labels": {"type": "dict"},
    "target": {"type": "str"},
    "platform": {"type": "str"},
    "network_mode": {"type": "str", "aliases": ["network"]},
    "extra_hosts": {"type": "dict", "aliases": ["etc_hosts"]},
    "cache_from": {"type": "list", "elements": "str"},
    "nocache": {"type": "bool", "default": False},
    "pull": {"type": "bool", "default": False},
    "rm": {"type": "bool", "default": True},
    "forcerm": {"type": "bool", "default": True},
    "squash": {"type": "bool"},
    "shm_size": {"type": "raw"},
    "memory": {"type": "raw"},
    "memswap": {"type": "raw"},
    "cpu_shares": {"type": "int"},
    "cpuset_cpus": {"type": "str"},
    "cpu_period": {"type": "int"},
    "cpu_quota": {"type": "int"},
    "outputs": {"type": "list", "elements": "dict"},
    "quiet": {"type": "bool", "default": False},
    "builder": {"type": "str", "choices": ["classic", "buildkit"], "default": "classic"},
    **RETRY_OPTIONS,
}
# Podman's service answers version=2 and outputs with a classic build: refuse before anything runs.
REQUIRES = {"builder=buildkit": Requirement(feature="buildkit"), "outputs": Requirement(feature="buildkit_exporters")}


def string_map(params: dict, option: str) -> dict[str, str]:
    """A dict option whose values must be scalars, as strings (the engine wants map[string]string)."""
    value = params.get(option) or {}
    for key, item in value.items():
        if isinstance(item, (dict, list)) or item is None:
            raise InvalidInput("{0}.{1} must be a string or a number, got {2}".format(
                option, key, "null" if item is None else type(item).__name__))
    return {str(key): str(item).lower() if isinstance(item, bool) else str(item) for key, item in value.items()}


class ImageBuilder:
    """Decides whether the image must be built, and builds it."""

    def __init__(self, task: Task) -> None:
        params = task.params
        self.client = task.client
        # No registries given: a build may pull from any, so registry_auth must name its serveraddress.
        self.creds = task.keep_secret(Credentials.from_params(params))
        self.params = params
        self.check_mode = task.check_mode
        self.build_args = string_map(params, "build_args")
        self.labels = string_map(params, "labels")
        self.sizes = {option: parse_size(params[option], option) for option in ("shm_size", "memory", "memswap")}
        for option, size in self.sizes.items():
            # -1 means unlimited swap, nothing else; the engine's own refusal would not name the option.
            if size is not None and size < 0 and not (option == "memswap" and size == -1):
                raise InvalidInput("{0} must not be negative, got {1}".format(option, size))
        self.ref = self.image_reference(params["name"], params["tag"])
        self.refs = [self.ref] + [self.image_reference(text) for text in params["tags"]]
        self.context = BuildContext(params["path"], params["dockerfile"]) if params["path"] else None

    @staticmethod
    def image_reference(text: str, tag: str | None = None) -> ImageReference:
        ref = parse_reference(text)
        if ref.digest:
            raise InvalidInput("{0!r} carries a digest; a build can only be named with a tag".format(text))
        if tag is not None and ref.tag is not None and ref.tag != tag:
            raise InvalidInput("name {0!r} carries the tag {1!r} but tag is {2!r}; give the tag once".format(
                text, ref.tag, tag))
        return ref if ref.tag else ref.with_tag(tag or "latest")

    def base_image_ids(self) -> dict[str, Optional[str]]:
        """Ids of the Dockerfile's base images; missing ones are first pulled, as the build would."""
        ids: dict[str, Optional[str]] = {}
        for name in base_images(self.context.dockerfile_text(), self.build_args):
            try:
                ref = parse_reference(name, default_tag="latest")
            except InvalidInput:
                continue  # e.g. an ARG we cannot resolve; the engine will judge it
            image = self.client.inspect_image(ref.familiar())
            if image is None and not self.check_mode:
                self.pull_base_image(ref)
                image = self.client.inspect_image(ref.familiar())
            ids[ref.familiar()] = image and image["Id"]
        return ids

    def pull_base_image(self, ref: ImageReference) -> None:
        """Pull a missing base image, retried as retries and retry_delay say (the build's own pulls are the engine's).

        RetryPolicy.from_params also refuses negative values; a final failure names the attempts and the last reason.
        """
        auth = self.creds.header_for(ref.registry)
        call_with_retries(lambda: self.client.pull_image(ref.familiar_repository, ref.digest or ref.tag, auth,
                                                         self.params["platform"]),
                          RetryPolicy.from_params(self.params), [], "pull")

    def digest(self) -> str:
        inputs = {"build_args": self.build_args, "labels": self.labels, "target": self.params["target"],
                  "platform": self.params["platform"], "base_images": self.base_image_ids()}
        return self.context.digest(inputs)

    def decide(self, before: dict | None, digest: str | None) -> tuple[bool, str]:
        """The idempotency decision: (build?, why)."""
        rebuild = self.params["rebuild"]
        if before is None:
            return True, "the image does not exist"
        if rebuild == "never":
            return False, "the image exists and rebuild is never"
        if rebuild == "always":
            return True, "rebuild is always"
        if digest is None:
            return True, "a remote context cannot be digested locally, so rebuild=changed behaves like always"
        if image_labels(before).get(DIGEST_LABEL) == digest:
            return False, "the image already carries the digest of these inputs"
        return True, "the build inputs changed since the image was built"

    def query(self, digest: str | None) -> dict[str, Any]:
        params = self.params
        labels = dict(self.labels, **({DIGEST_LABEL: digest} if digest else {}))
        extra_hosts = string_map(params, "extra_hosts")
        return {
            "dockerfile": self.context.dockerfile_name if self.context else params["dockerfile"],
            "t": [ref.familiar_tagged() for ref in self.refs],
            "remote": params["remote"],
            "q": params["quiet"],
            "nocache": params["nocache"],
            "cachefrom": json.dumps(params["cache_from"]) if params["cache_from"] else None,
            "pull": params["pull"],
            "rm": params["rm"],
            "forcerm": params["forcerm"],
            "squash": params["squash"],
            "memory": self.sizes["memory"],
            "memswap": self.sizes["memswap"],
            "shmsize": self.sizes["shm_size"],
            "cpushares": params["cpu_shares"],
            "cpusetcpus": params["cpuset_cpus"],
            "cpuperiod": params["cpu_period"],
            "cpuquota": params["cpu_quota"],
            "buildargs": json.dumps(self.build_args),
            "labels": json.dumps(labels),
            "networkmode": params["network_mode"],
            "extrahosts": ["{0}:{1}".format(host, ip) for host, ip in sorted(extra_hosts.items())] or None,
            "platform": params["platform"],
            "target": params["target"],
            "outputs": json.dumps(params["outputs"]) if params["outputs"] else None,
            "version": BUILDER_VERSIONS[params["builder"]],
        }

    def stale_tags(self, image: dict) -> list[ImageReference]:
        """References of ``tags`` that do not point at ``image``."""
        stale = []
        for ref in self.refs[1:]:
            current = self.client.inspect_image(ref.familiar_tagged())
            if current is None or current["Id"] != image["Id"]:
                stale.append(ref)
        return stale

    def run(self) -> dict:
        # Decide and build under one lock: parallel forks would otherwise all find the image missing.
        with host_lock(self.client.config.docker_host, self.ref.familiar_tagged(), timeout=self.client.config.timeout):
            return self.decide_and_build()

    def decide_and_build(self) -> dict:
        before = self.client.inspect_image(self.ref.familiar_tagged())
        skip_digest = self.context is None or (before is not None and self.params["rebuild"] == "never")
        digest = None if skip_digest else self.digest()
        build, reason = self.decide(before, digest)
        result: dict[str, Any] = {"built": False, "digest": digest, "reason": reason, "log": [],
                                  "context_bytes": 0, "tagged": []}
        after = before
        if build and self.check_mode:
            changed = True
        elif build:
            stream = self.context.tar_stream() if self.context else None
            summary = self.client.build_image(stream, self.query(digest), self.creds.build_config_header())
            result.update(built=True, log=summary.log, context_bytes=self.context.sent_bytes if self.context else 0)
            after = self.client.inspect_image(self.ref.familiar_tagged())
            if after is None:
                raise MobyEngineError("the engine reported no error, but {0} does not exist after the build".format(
                    self.ref.familiar_tagged()))
            changed = before is None or before["Id"] != after["Id"]
        else:
            stale = self.stale_tags(before)
            if not self.check_mode:
                for ref in stale:
                    self.client.tag_image(before["Id"], ref.familiar_repository, ref.tag_or_default())
                after = self.client.inspect_image(before["Id"]) if stale else before
            result["tagged"] = [ref.familiar_tagged() for ref in stale]
            changed = bool(stale)
        diff = image_diff(before, after)
        diff["before"]["digest"] = image_labels(before).get(DIGEST_LABEL)
        diff["after"]["digest"] = digest if build else diff["before"]["digest"]
        result.update(changed=changed, diff=diff)
        if after is not None:
            result["image"] = after
        return result


def image_labels(image: dict | None) -> dict:
    return ((image or {}).get("Config") or {}).get("Labels") or {}


def main() -> None:
    run_module(OPTIONS, lambda task: ImageBuilder(task).run(), lambda params, error: "Building {0} from {1} failed: {2}".format(
        params["name"], params["path"] or params["remote"], error), registry=True, requires=REQUIRES,
        mutually_exclusive=[("path", "remote")], required_one_of=[("path", "remote")])


if __name__ == "__main__":
    main()
