# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine's endpoints, one short method each: path, parameters, and the ``_engines`` normaliser.

Nothing here branches on the kind of engine: every difference is a function of ``_engines`` that
takes the negotiated engine.  The methods raise the exceptions of ``_errors``; none calls fail_json.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from ansible_collections.moby.engine.plugins.module_utils._engines import (
    build_prune_params,
    commit_request,
    import_query,
    list_digests_param,
    loaded_names,
    loses_concurrent_name_changes,
    may_use_containerd_store,
    normalize_deleted,
    normalize_history,
    normalize_image,
    normalize_image_list,
    presence_platform,
    pushed_aux,
    RACED_REMOVAL_ATTEMPTS,
    deleted_meanwhile,
    raced_removal_wait,
    removal_raced,
    reports_manifest_availability,
    uses_containerd_store,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    EngineAPIError,
    NotFound,
)
from ansible_collections.moby.engine.plugins.module_utils._transport import (
    Engine,
    EngineConfig,
    Transport,
    Writable,
    upload_body,
)

if TYPE_CHECKING:
    # In annotations only: the progress stream parser is imported by the requests that stream (Transport.stream),
    # not by every task (module start cost, issue #16).
    from ansible_collections.moby.engine.plugins.module_utils._stream import ProgressSummary


class EngineClient:
    """The Docker Engine API operations the modules use, for one task (thread-safe)."""

    def __init__(self, config: EngineConfig) -> None:
        self.transport = Transport(config)
        self.config = config
        self._containerd_store: bool | None = None
        self._name_change_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self.transport.engine

    def close(self) -> None:
        self.transport.close()

    def _name_change_turn(self) -> AbstractContextManager:
        """Held while a tag or a removal changes an image's names: on an engine that loses concurrent changes to one
        image's names (``loses_concurrent_name_changes``), this task's threads take turns."""
        if loses_concurrent_name_changes(self.engine.identity):
            return self._name_change_lock
        return nullcontext()

    # -- images ----------------------------------------------------------

    def inspect_image(self, name: str, platform: str | None = None, manifests: bool = False) -> dict | None:
        """Inspect data of an image, or None when the engine has no such image.

        ``platform`` (JSON, API 1.49) and ``manifests`` (API 1.48) are sent only when asked for."""
        try:
            answer = self.transport.get_json("/images/{0}/json".format(_path(name)),
                                             params={"platform": platform, "manifests": manifests or None})
        except NotFound:
            return None
        return normalize_image(answer, self.engine.identity)

    def inspect_image_for_platform(self, name: str, platform: str | None) -> dict | None:
        """Inspect data of ``platform`` (JSON) of an image, where the engine can tell platforms apart; elsewhere the
        image's own data (the caller checks its platform)."""
        return self.inspect_image(name, platform=presence_platform(self.engine.api_version, platform))

    def available_platforms(self, name: str) -> dict[str, str] | None:
        """``{manifest digest: os/arch[/variant]}`` of the platforms of image ``name`` whose content the engine has
        (attestations left out), or None where the engine cannot say (before API 1.48)."""
        if not reports_manifest_availability(self.engine.api_version):
            return None
        # Here, not at the top: image_prune, engine_info and the other modules that never name a platform do not
        # load _references at start.
        from ansible_collections.moby.engine.plugins.module_utils._references import platform_name
        available = {}
        for entry in (self.inspect_image(name, manifests=True) or {}).get("Manifests") or []:
            platform = platform_name((entry.get("Descriptor") or {}).get("platform"))
            if entry.get("Kind") == "image" and entry.get("Available") and platform:
                available[entry.get("ID")] = platform
        return available

    def image_history(self, name: str, platform: str | None = None) -> list:
        entries = self.transport.get_json("/images/{0}/history".format(_path(name)), params={"platform": platform})
        return normalize_history(entries, self.engine.identity, image_id=name if name.startswith("sha256:") else None)

    def list_images(self, filters: str | None = None, all_images: bool = False, digests: bool = False,
                    shared_size: bool = False, manifests: bool = False) -> list:
        images = self.transport.get_json("/images/json", params={
            "filters": filters, "all": all_images, "digests": list_digests_param(self.engine.identity, digests),
            "shared-size": shared_size, "manifests": manifests or None})
        return normalize_image_list(images, self.engine.identity, filters)

    def distribution_inspect(self, name: str, auth_header: str) -> dict:
        with _credentials_hint():
            return self.transport.get_json("/distribution/{0}/json".format(_path(name)),
                                           headers={"X-Registry-Auth": auth_header})

    def pull_image(self, repository: str, tag: str | None, auth_header: str,
                   platform: str | None = None) -> ProgressSummary:
        with _credentials_hint():
            return self.transport.stream("POST", "/images/create",
                                         params={"fromImage": repository, "tag": tag, "platform": platform},
                                         headers={"X-Registry-Auth": auth_header})

    def tag_image(self, source: str, repository: str, tag: str) -> None:
        with self._name_change_turn():
            self.transport.request("POST", "/images/{0}/tag".format(_path(source)),
                                   params={"repo": repository, "tag": tag})

    def remove_image(self, name: str, force: bool = False, noprune: bool = False,
                     platforms: list[str] | None = None) -> list:
        """DELETE /images/{name}; ``platforms`` (JSON OCI platforms, API 1.50) removes only their content. A removal
        that raced another change of the same content in containerd is sent again (see ``removal_raced``); one whose
        image another removal deleted meanwhile raises NotFound, as on newer engines (see ``deleted_meanwhile``).
        Removals take turns where the engine loses concurrent changes to names (see ``_name_change_turn``)."""
        for attempt in range(1, RACED_REMOVAL_ATTEMPTS + 1):
            try:
                with self._name_change_turn():
                    response = self.transport.request("DELETE", "/images/{0}".format(_path(name)), params={
                        "force": force, "noprune": noprune, "platforms": platforms or None})
                break
            except EngineAPIError as exc:
                if deleted_meanwhile(exc.message):
                    raise NotFound(exc.message)
                if attempt == RACED_REMOVAL_ATTEMPTS or not removal_raced(exc.message):
                    raise
                time.sleep(raced_removal_wait(attempt))
        return normalize_deleted(self.transport.json_of(response, "DELETE", "/images/{name}"), self.engine.identity)

    def push_image(self, repository: str, tag: str | None, auth_header: str,
                   platform: str | None = None) -> ProgressSummary:
        """POST /images/{name}/push; ``platform`` (JSON OCI platform, API 1.46) pushes that manifest alone."""
        with _credentials_hint():
            summary = self.transport.stream("POST", "/images/{0}/push".format(_path(repository)),
                                            params={"tag": tag, "platform": platform},
                                            headers={"X-Registry-Auth": auth_header})
        summary.aux = pushed_aux(summary.messages, summary.aux)
        return summary

    def search_images(self, term: str, limit: int | None = None, filters: str | None = None,
                      auth_header: str | None = None) -> list:
        headers = {"X-Registry-Auth": auth_header} if auth_header else None
        return self.transport.get_json("/images/search", params={"term": term, "limit": limit, "filters": filters},
                                       headers=headers)

    def prune_images(self, filters: str | None = None) -> dict:
        response = self.transport.request("POST", "/images/prune", params={"filters": filters})
        answer = self.transport.json_of(response, "POST", "/images/prune")
        if isinstance(answer, dict) and "ImagesDeleted" in answer:
            answer["ImagesDeleted"] = normalize_deleted(answer["ImagesDeleted"], self.engine.identity)
        return answer

    def export_images(self, names: list[str], destination: Writable, platform: str | None = None) -> int:
        """Bytes written; ``platform`` (JSON OCI platform, API 1.48) exports that platform alone."""
        if len(names) == 1:
            return self.transport.download("/images/{0}/get".format(_path(names[0])), destination,
                                           params={"platform": platform})
        return self.transport.download("/images/get", destination, params={"names": names, "platform": platform})

    def load_images(self, archive: IO[bytes] | Iterable[bytes], quiet: bool = False,
                    platform: str | None = None) -> tuple:
        """(progress summary, names the engine says it loaded); ``platform`` (JSON OCI platform, API 1.48) loads
        that platform alone."""
        summary = self.transport.stream("POST", "/images/load", params={"quiet": quiet, "platform": platform},
                                        headers={"Content-Type": "application/x-tar"}, data=upload_body(archive))
        return summary, loaded_names(summary.log)

    def import_image(self, source: IO[bytes] | Iterable[bytes] | str, params: Mapping[str, Any]) -> ProgressSummary:
        """Import a rootfs tarball: a stream sent as the body, or a URL string the engine fetches."""
        query = import_query(params)
        if isinstance(source, str):
            query["fromSrc"] = source
            return self.transport.stream("POST", "/images/create", params=query)
        query["fromSrc"] = "-"
        return self.transport.stream("POST", "/images/create", params=query,
                                     headers={"Content-Type": "application/octet-stream"}, data=upload_body(source))

    # -- builds ----------------------------------------------------------

    def build_image(self, context: Iterable[bytes] | IO[bytes] | None, params: Mapping[str, Any],
                    registry_config: str | None = None) -> ProgressSummary:
        headers = {"Content-Type": "application/x-tar"}
        if registry_config:
            headers["X-Registry-Config"] = registry_config
        return self.transport.stream("POST", "/build", params=params, headers=headers, data=context)

    def prune_build_cache(self, filters: str | None = None, all_caches: bool | None = None,
                          keep_storage: int | None = None) -> dict:
        response = self.transport.request("POST", "/build/prune", params=build_prune_params(
            self.engine.api_version, filters, all_caches, keep_storage))
        return self.transport.json_of(response, "POST", "/build/prune")

    # -- containers ------------------------------------------------------

    def commit_container(self, params: Mapping[str, Any], config: Mapping[str, Any] | None = None,
                         kept: Mapping[str, Any] | None = None) -> dict:
        """POST /commit; ``kept`` are container fields the engine would drop once ``config`` is sent."""
        where = "{0}, {1}".format(self.config.docker_host, self.engine.describe())
        query, body = commit_request(self.engine.identity, params, config, kept, where)
        response = self.transport.request("POST", "/commit", params=query, json_body=body)
        return self.transport.json_of(response, "POST", "/commit")

    def inspect_container(self, name: str) -> dict | None:
        try:
            return self.transport.get_json("/containers/{0}/json".format(quote(name, safe="")))
        except NotFound:
            return None

    def list_containers(self, all_containers: bool = False, filters: str | None = None) -> list:
        return self.transport.get_json("/containers/json", params={"all": all_containers, "filters": filters})

    # -- registries ------------------------------------------------------

    def login(self, auth: Mapping[str, Any]) -> dict:
        """POST /auth: the engine checks the credentials with the registry; raises AuthenticationFailed."""
        response = self.transport.request("POST", "/auth", json_body=dict(auth))
        return self.transport.json_of(response, "POST", "/auth")

    # -- system ----------------------------------------------------------

    def system_df(self) -> dict:
        return self.transport.get_json("/system/df")

    def ping_headers(self) -> Mapping[str, str]:
        """The headers of GET /_ping (unversioned): Builder-Version, OSType, Api-Version, Server."""
        return self.transport.request("GET", "/_ping", versioned=False).headers

    def version(self) -> dict:
        return self.transport.get_json("/version")

    def info(self) -> dict:
        return self.transport.get_json("/info")

    def uses_containerd_store(self) -> bool:
        """Whether the engine names images by manifest digest (the containerd image store); asked once."""
        if self._containerd_store is None:
            self._containerd_store = may_use_containerd_store(self.engine.engine_api_version) and \
                uses_containerd_store(self.info())
        return self._containerd_store

    def disk_usage(self, kinds: Iterable[str]) -> dict:
        """GET /system/df for these kinds only (``type``, API 1.42: image, container, volume, build-cache); older
        engines ignore ``type`` and compute every kind."""
        return self.transport.get_json("/system/df", params={"type": list(kinds)})


_AUTH_FAILURE_RE = re.compile(r"unauthorized|authentication required|no basic auth credentials|denied", re.I)


@contextmanager
def _credentials_hint() -> Iterator[None]:
    """Add advice to a registry's authentication failure, which the engine passes on verbatim."""
    try:
        yield
    except EngineAPIError as exc:
        if not (_AUTH_FAILURE_RE.search(exc.message) or isinstance(exc, AuthenticationFailed)):
            raise
        raise AuthenticationFailed(
            "{0} (the registry refused the credentials: check registry_auth, or the entry for this "
            "registry in docker_config's config.json and its credential helper)".format(exc.message))


def _path(name: str) -> str:
    # Image references hold slashes, which the engine's router takes as part of the name.
    return quote(name, safe="/:@")
