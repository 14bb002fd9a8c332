# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Transport and API client for the Docker Engine HTTP API.

One EngineClient per task: it owns the HTTP session (unix socket, tcp, TLS),
negotiates the API version once, versions every request path, maps error
statuses to exceptions carrying the engine's message, and offers one method
per engine operation the modules use.  It raises, never calls fail_json.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Optional
from urllib.parse import quote, urlsplit

from ansible_collections.moby.engine.plugins.module_utils._engines import (
    EngineIdentity,
    config_as_changes,
    explain_error,
    identify_engine,
    normalize_deleted,
    normalize_history,
    normalize_image,
    normalize_image_list,
    pushed_aux,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    STATUS_ERRORS,
    AuthenticationFailed,
    EndpointMissing,
    EngineAPIError,
    EngineTimeout,
    EngineUnreachable,
    InvalidInput,
    MissingLibrary,
    NotFound,
    StreamError,
    UnsupportedApiVersion,
    UnsupportedByEngine,
)
from ansible_collections.moby.engine.plugins.module_utils._stream import ProgressSummary, decode_json_stream

try:
    import requests
    from requests import Session
    from requests.adapters import HTTPAdapter
except ImportError:
    requests = None
    Session = object
    HTTPAdapter = object
    REQUESTS_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    REQUESTS_IMPORT_ERROR = None

try:
    import requests_unixsocket
except ImportError:
    requests_unixsocket = None
    UNIXSOCKET_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    UNIXSOCKET_IMPORT_ERROR = None

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
MIN_API_VERSION = "1.41"
MAX_API_VERSION = "1.43"
DEFAULT_TIMEOUT = 60
STREAM_CHUNK_SIZE = 64 * 1024
# Request bodies read from a file (image_load) are sent in pieces of this size.
UPLOAD_CHUNK_SIZE = 1024 * 1024
_VERSION_RE = re.compile(r"^\d+\.\d+$")


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _missing_library_message(library: str) -> str:
    # Same wording as ansible.module_utils.basic.missing_required_lib, without importing basic here.
    return ("Failed to import the required Python library ({0}) on the managed host's Python. "
            "Please read the module documentation and install it in the appropriate location. "
            "If the required library is installed, but Ansible is using the wrong Python interpreter, "
            "please consult the documentation on ansible_python_interpreter".format(library))


class _TLSAdapter(HTTPAdapter):  # type: ignore[misc,valid-type]
    """HTTPS adapter that can check the certificate against a name other than the URL's host."""

    def __init__(self, tls_hostname: str | None, **kwargs: Any) -> None:
        self._tls_hostname = tls_hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._tls_hostname:
            kwargs["assert_hostname"] = self._tls_hostname
            kwargs["server_hostname"] = self._tls_hostname
        super().init_poolmanager(*args, **kwargs)


class _EngineSession(Session):  # type: ignore[misc,valid-type]
    """A requests session whose own ``verify`` (ca_path, or False) wins over the environment.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's ``verify`` on every
    request (psf/requests#3829); many hosts set them, which silently ignored ca_path and
    validate_certs: false.  Only the default (True) is left for the environment to refine.
    """

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


@dataclass
class EngineConfig:
    """Where and how to reach the engine; built from the common module options."""

    docker_host: str = DEFAULT_DOCKER_HOST
    tls: bool = False
    validate_certs: Optional[bool] = None
    ca_path: Optional[str] = None
    client_cert: Optional[str] = None
    client_key: Optional[str] = None
    tls_hostname: Optional[str] = None
    api_version: str = "auto"
    timeout: int = DEFAULT_TIMEOUT

    @property
    def scheme(self) -> str:
        return urlsplit(self.docker_host).scheme

    @property
    def use_tls(self) -> bool:
        # Asking for verification implies TLS, as DOCKER_TLS_VERIFY does for the docker CLI.
        return self.tls or bool(self.validate_certs) or self.scheme == "https"

    @property
    def verify(self) -> bool:
        # With TLS, certificates are checked unless the user explicitly said validate_certs: false.
        return self.validate_certs is not False

    def validate(self) -> None:
        if self.scheme not in ("unix", "tcp", "http", "https"):
            raise InvalidInput(
                "docker_host {0!r} has an unsupported scheme; expected unix:///path/to/socket, "
                "tcp://host:port, http://host:port or https://host:port".format(self.docker_host))
        if self.scheme == "unix" and not urlsplit(self.docker_host).path:
            raise InvalidInput("docker_host {0!r} names no socket path".format(self.docker_host))
        if self.scheme in ("tcp", "http", "https"):
            try:
                urlsplit(self.docker_host).port
            except ValueError:
                raise InvalidInput("docker_host {0!r} has an invalid port".format(self.docker_host))
            if not urlsplit(self.docker_host).hostname:
                raise InvalidInput("docker_host {0!r} names no host".format(self.docker_host))
        if self.api_version != "auto" and not _VERSION_RE.match(str(self.api_version)):
            raise InvalidInput("api_version {0!r} is not 'auto' or a version like 1.43".format(self.api_version))
        if self.api_version != "auto" and version_tuple(str(self.api_version)) < version_tuple(MIN_API_VERSION):
            raise UnsupportedApiVersion("api_version {0} is older than moby.engine supports: it needs {1} or newer "
                                        "(Docker 20.10+); use 'auto'".format(self.api_version, MIN_API_VERSION))
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidInput("timeout must be a positive number of seconds, got {0}".format(self.timeout))
        if bool(self.client_cert) != bool(self.client_key):
            raise InvalidInput("client_cert and client_key must be given together")

    @property
    def base_url(self) -> str:
        parts = urlsplit(self.docker_host)
        if parts.scheme == "unix":
            return "http+unix://" + quote(parts.path, safe="")
        scheme = "https" if self.use_tls else "http"
        port = parts.port or (2376 if self.use_tls else 2375)
        host = parts.hostname or ""
        if ":" in host:
            host = "[{0}]".format(host)
        return "{0}://{1}:{2}".format(scheme, host, port)


class EngineClient:
    """A Docker Engine API client for one task (thread-safe: one HTTP session per thread)."""

    def __init__(self, config: EngineConfig) -> None:
        if requests is None:
            raise MissingLibrary("requests", _missing_library_message("requests"), REQUESTS_IMPORT_ERROR)
        config.validate()
        if config.scheme == "unix" and requests_unixsocket is None:
            raise MissingLibrary("requests-unixsocket", _missing_library_message("requests-unixsocket"),
                                 UNIXSOCKET_IMPORT_ERROR)
        self.config = config
        self._local = threading.local()
        self._api_version: Optional[str] = None
        self.engine_api_version: Optional[str] = None
        # Docker until /_ping says otherwise; known once the first request has negotiated.
        self.engine = EngineIdentity()

    # -- transport -------------------------------------------------------

    def _new_session(self) -> Any:
        config = self.config
        if config.scheme == "unix":
            return requests_unixsocket.Session()
        session = _EngineSession()
        if config.use_tls:
            session.mount("https://", _TLSAdapter(config.tls_hostname))
            session.verify = (config.ca_path or True) if config.verify else False
            if config.client_cert:
                session.cert = (config.client_cert, config.client_key)
        return session

    @property
    def session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._new_session()
        return session

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

    def _timeout(self, timeout: float | None) -> tuple[float, float]:
        value = timeout if timeout is not None else self.config.timeout
        return (value, value)

    def _url(self, path: str, versioned: bool) -> str:
        prefix = "/v" + self.api_version if versioned else ""
        return self.config.base_url + prefix + path

    def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, data: Any = None, json_body: Any = None,
                stream: bool = False, versioned: bool = True, timeout: float | None = None) -> Any:
        """Send one request; return the response or raise the matching engine error."""
        url = self._url(path, versioned)
        query = {key: _query_value(value) for key, value in (params or {}).items() if value is not None}
        try:
            response = self.session.request(method, url, params=query, headers=dict(headers or {}), data=data,
                                            json=json_body, stream=stream, timeout=self._timeout(timeout))
        except requests.exceptions.SSLError as exc:
            raise EngineUnreachable(
                "TLS connection to the engine at {0} failed: {1}{2}. Check ca_path, client_cert, client_key "
                "and tls_hostname (or DOCKER_CERT_PATH)".format(self.config.docker_host, _reason(exc),
                                                                self._refusal_hint(exc)))
        except requests.exceptions.Timeout:
            raise EngineTimeout("the engine at {0} did not answer within {1} s (timeout)".format(
                self.config.docker_host, self._timeout(timeout)[1]))
        except (requests.exceptions.ConnectionError, OSError) as exc:
            if "invalid path" in str(exc):
                # requests checks the certificate files only when it connects, and says so with an OSError.
                raise InvalidInput("{0}; check ca_path, client_cert and client_key (or DOCKER_CERT_PATH)".format(exc))
            # requests_unixsocket reports a socket that is missing or refuses as "Connection aborted" too,
            # but those errors only happen before anything was connected.
            if "Connection aborted" in str(exc) and not re.search(r"No such file or directory|Connection refused",
                                                                  str(exc)):
                # Connected, then the engine went away in the middle of the request (stopped, crashed).
                raise EngineUnreachable("the connection to the engine at {0} broke off: {1}. Check that dockerd is "
                                        "still running, then rerun".format(self.config.docker_host, _reason(exc)))
            raise EngineUnreachable(
                "cannot connect to the engine at {0}: {1}. Check that dockerd is running and that "
                "docker_host (or DOCKER_HOST) points at it".format(self.config.docker_host, _reason(exc)))
        if response.status_code >= 400:
            error = self._error(response)
            if self.engine.is_podman and error.status == 404 and error.message == "Not Found":
                # Podman's router answers a bare "Not Found" for the Docker endpoints it lacks (/distribution,
                # /build/prune); a missing image or manifest always comes with a reason.
                raise EndpointMissing("{0} has no {1} {2} endpoint".format(
                    self.engine.describe(self.api_version), method, path), status=404)
            raise error
        return response

    def _refusal_hint(self, exc: BaseException) -> str:
        # An alert comes from the engine's side of the handshake: with --tlsverify it wants a client
        # certificate signed by its CA, which is easy to miss in OpenSSL's wording.
        if "ALERT" not in str(exc) and "EOF occurred" not in str(exc):
            return ""
        if self.config.client_cert:
            return " (the engine refused the client certificate {0}: it must be signed by a CA the engine " \
                   "trusts)".format(self.config.client_cert)
        return " (the engine wants a client certificate: set client_cert and client_key)"

    def _error(self, response: Any) -> EngineAPIError:
        try:
            body = response.json()
        except ValueError:
            body = None
        # A proxy in front of the engine may answer with any JSON, or none.
        message = (body.get("message") if isinstance(body, dict) else None) or response.text
        message = (message or response.reason or "").strip()
        if "HTTP request to an HTTPS server" in message:
            return EngineUnreachable(
                "the engine at {0} expects TLS; set tls: true (and the certificates)".format(
                    self.config.docker_host))
        if response.status_code == 400 and "client version" in message:
            return UnsupportedApiVersion(
                "the engine refused API version {0}: {1}".format(self.api_version, message))
        error_class = STATUS_ERRORS.get(response.status_code, EngineAPIError)
        return error_class(explain_error(message, self.engine), status=response.status_code)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        response = self.request("GET", path, params=params, headers=headers)
        try:
            return response.json()
        except ValueError:
            # Seen from Podman 4.3 (GET /images/json?digests=1 answers 200 with an empty body).
            raise EngineAPIError("the engine at {0} answered GET {1} with {2!r}, which is not JSON".format(
                self.config.docker_host, path, (response.text or "")[:200]), status=response.status_code)

    def stream(self, method: str, path: str, params: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None, data: Any = None,
               summary: ProgressSummary | None = None) -> ProgressSummary:
        """Send a request whose answer is a JSON progress stream; return its summary."""
        summary = summary or ProgressSummary()
        response = self.request(method, path, params=params, headers=headers, data=data, stream=True)
        with response:
            try:
                summary.consume(decode_json_stream(self._iter_chunks(response)))
            except StreamError as exc:
                explained = explain_error(exc.message, self.engine)
                if explained == exc.message:
                    raise
                raise StreamError(explained, log_tail=exc.log_tail)
        return summary

    def _iter_chunks(self, response: Any) -> Iterator[bytes]:
        try:
            yield from response.iter_content(chunk_size=STREAM_CHUNK_SIZE)
        except requests.exceptions.RequestException as exc:
            raise EngineUnreachable("the connection to the engine at {0} broke off: {1}".format(
                self.config.docker_host, _reason(exc)))

    def download(self, path: str, destination: IO[bytes], params: Mapping[str, Any] | None = None) -> int:
        """Stream a binary response into ``destination``; return the byte count."""
        written = 0
        response = self.request("GET", path, params=params, stream=True)
        with response:
            for chunk in self._iter_chunks(response):
                destination.write(chunk)
                written += len(chunk)
        return written

    # -- API version -----------------------------------------------------

    @property
    def api_version(self) -> str:
        if self._api_version is None:
            self._api_version = self._negotiate()
        return self._api_version

    def _negotiate(self) -> str:
        # /_ping is unversioned, so negotiation needs no version yet. It is asked even for a fixed
        # api_version: anything but an engine at docker_host (a registry, a web server) answers 404 to
        # every path, and inspect_image would then report every image as missing.
        try:
            response = self.request("GET", "/_ping", versioned=False)
        except EngineAPIError as exc:
            raise EngineUnreachable(
                "the server at {0} is not a Docker engine (GET /_ping answered {1}: {2}). Check that docker_host "
                "(or DOCKER_HOST) points at dockerd".format(self.config.docker_host, exc.status, exc.message[:200]))
        self.engine = identify_engine(response.headers)
        if self.config.api_version != "auto":
            self._refuse_unchecked_version(str(self.config.api_version), response.headers.get("Api-Version"))
            return str(self.config.api_version)
        offered = response.headers.get("Api-Version")
        if not offered:
            offered = self.request("GET", "/version", versioned=False).json().get("ApiVersion")
        if not offered or not _VERSION_RE.match(offered):
            raise UnsupportedApiVersion("the engine at {0} did not report its API version".format(
                self.config.docker_host))
        self.engine_api_version = offered
        if version_tuple(offered) < version_tuple(MIN_API_VERSION):
            raise UnsupportedApiVersion(
                "the engine at {0} speaks API {1}; moby.engine needs {2} or newer (Docker 20.10+). "
                "Upgrade the engine".format(self.config.docker_host, offered, MIN_API_VERSION))
        return min(offered, MAX_API_VERSION, key=version_tuple)

    def _refuse_unchecked_version(self, wanted: str, offered: str | None) -> None:
        # dockerd refuses a newer version than it speaks ("client version ... is too new"); Podman serves
        # any version number in the path, so the same request must be refused here.
        if self.engine.is_podman and offered and _VERSION_RE.match(offered) and \
                version_tuple(wanted) > version_tuple(offered):
            raise UnsupportedApiVersion(
                "moby.engine refused API version {0}: the engine at {1} is {2}, which does not check the version "
                "it is asked for; use api_version auto or {3}".format(
                    wanted, self.config.docker_host, self.engine.describe(offered), offered))

    def require_api(self, version: str, option: str) -> None:
        """Fail clearly when ``option`` needs a newer API than the one in use."""
        if version_tuple(self.api_version) < version_tuple(version):
            raise UnsupportedApiVersion("{0} needs engine API {1} or newer; the engine at {2} is {3}. Leave {0} "
                                        "unset on this engine, or upgrade it".format(
                                            option, version, self.config.docker_host,
                                            self.engine.describe(self.engine_api_version or self.api_version)))

    def identify(self) -> EngineIdentity:
        """Which engine answers (negotiating first when no request has been made yet)."""
        if self._api_version is None:
            self._api_version = self._negotiate()
        return self.engine

    def require_docker(self, option: str, feature: str) -> None:
        """Fail clearly when ``option`` needs a dockerd feature that Podman's service lacks or ignores."""
        if self.identify().is_podman:
            raise UnsupportedByEngine(
                "{0} needs {1}, which the engine at {2}, {3}, does not offer. Leave {0} unset on Podman, or use "
                "Docker".format(option, feature, self.config.docker_host, self.engine.describe(self.api_version)))

    # -- images ----------------------------------------------------------

    def inspect_image(self, name: str) -> dict | None:
        """Inspect data of an image, or None when the engine has no such image."""
        try:
            return normalize_image(self.get_json("/images/{0}/json".format(_path(name))), self.engine)
        except NotFound:
            return None

    def image_history(self, name: str) -> list:
        entries = self.get_json("/images/{0}/history".format(_path(name)))
        return normalize_history(entries, self.engine, image_id=name if name.startswith("sha256:") else None)

    def list_images(self, filters: str | None = None, all_images: bool = False, digests: bool = False,
                    shared_size: bool = False) -> list:
        if self.identify().is_podman:
            # Podman 4 answers digests=1 with an empty body, and sends RepoDigests without being asked.
            digests = False
        images = self.get_json("/images/json", params={
            "filters": filters, "all": all_images, "digests": digests, "shared-size": shared_size})
        return normalize_image_list(images, self.engine, filters)

    def distribution_inspect(self, name: str, auth_header: str) -> dict:
        with _credentials_hint():
            return self.get_json("/distribution/{0}/json".format(_path(name)),
                                 headers={"X-Registry-Auth": auth_header})

    def pull_image(self, repository: str, tag: str | None, auth_header: str,
                   platform: str | None = None) -> ProgressSummary:
        with _credentials_hint():
            return self.stream("POST", "/images/create",
                               params={"fromImage": repository, "tag": tag, "platform": platform},
                               headers={"X-Registry-Auth": auth_header})

    def tag_image(self, source: str, repository: str, tag: str) -> None:
        self.request("POST", "/images/{0}/tag".format(_path(source)), params={"repo": repository, "tag": tag})

    def remove_image(self, name: str, force: bool = False, noprune: bool = False) -> list:
        return normalize_deleted(self.request("DELETE", "/images/{0}".format(_path(name)),
                                              params={"force": force, "noprune": noprune}).json(), self.engine)

    def push_image(self, repository: str, tag: str | None, auth_header: str) -> ProgressSummary:
        with _credentials_hint():
            summary = self.stream("POST", "/images/{0}/push".format(_path(repository)), params={"tag": tag},
                                  headers={"X-Registry-Auth": auth_header})
        summary.aux = pushed_aux(summary.messages, summary.aux, self.engine)
        return summary

    def search_images(self, term: str, limit: int | None = None, filters: str | None = None,
                      auth_header: str | None = None) -> list:
        headers = {"X-Registry-Auth": auth_header} if auth_header else None
        return self.get_json("/images/search", params={"term": term, "limit": limit, "filters": filters},
                             headers=headers)

    def prune_images(self, filters: str | None = None) -> dict:
        answer = self.request("POST", "/images/prune", params={"filters": filters}).json()
        if isinstance(answer, dict) and "ImagesDeleted" in answer:
            answer["ImagesDeleted"] = normalize_deleted(answer["ImagesDeleted"], self.engine)
        return answer

    def build_image(self, context: Iterable[bytes] | IO[bytes] | None, params: Mapping[str, Any],
                    registry_config: str | None = None) -> ProgressSummary:
        headers = {"Content-Type": "application/x-tar"}
        if registry_config:
            headers["X-Registry-Config"] = registry_config
        return self.stream("POST", "/build", params=params, headers=headers, data=context)

    def prune_build_cache(self, filters: str | None = None, all_caches: bool | None = None,
                          keep_storage: int | None = None) -> dict:
        return self.request("POST", "/build/prune", params={
            "filters": filters, "all": all_caches, "keep-storage": keep_storage}).json()

    def system_df(self) -> dict:
        return self.get_json("/system/df")

    def commit_container(self, params: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> dict:
        query = dict(params)
        if config and self.identify().is_podman:
            # Podman ignores the body; what it can express goes in as Dockerfile instructions, before the
            # caller's own changes (which win, as they do over the body on dockerd).
            changes, untranslatable = config_as_changes(config)
            if untranslatable:
                raise UnsupportedByEngine(
                    "config fields {0} cannot be applied by the engine at {1}, {2}, which ignores the configuration "
                    "of POST /commit; only {3} can (as Dockerfile instructions). Leave them out, or use Docker".format(
                        ", ".join(untranslatable), self.config.docker_host, self.engine.describe(self.api_version),
                        "Cmd, Entrypoint, Env, ExposedPorts, Labels, OnBuild, StopSignal, User, Volumes, WorkingDir"))
            query["changes"] = changes + list(query.get("changes") or [])
        return self.request("POST", "/commit", params=query, json_body=dict(config or {})).json()

    def inspect_container(self, name: str) -> dict | None:
        try:
            return self.get_json("/containers/{0}/json".format(_path(name)))
        except NotFound:
            return None

    def list_containers(self, all_containers: bool = False, filters: str | None = None) -> list:
        return self.get_json("/containers/json", params={"all": all_containers, "filters": filters})

    def export_images(self, names: list[str], destination: IO[bytes]) -> int:
        if len(names) == 1:
            return self.download("/images/{0}/get".format(_path(names[0])), destination)
        return self.download("/images/get", destination, params={"names": names})

    def load_images(self, archive: IO[bytes] | Iterable[bytes], quiet: bool = False) -> ProgressSummary:
        # A file is sent in UPLOAD_CHUNK_SIZE pieces: given the file itself, urllib3 writes 16 KiB at a time,
        # which made loading a 512 MiB archive about 20% slower (make bench, export_load).
        body = iter(partial(archive.read, UPLOAD_CHUNK_SIZE), b"") if hasattr(archive, "read") else archive
        return self.stream("POST", "/images/load", params={"quiet": quiet},
                           headers={"Content-Type": "application/x-tar"}, data=body)

    def import_image(self, source: IO[bytes] | Iterable[bytes] | str, params: Mapping[str, Any]) -> ProgressSummary:
        """Import a rootfs tarball: a stream sent as the body, or a URL string the engine fetches."""
        query = dict(params)
        if query.get("repo") and query.get("tag"):
            # Podman's service ignores `tag` here and tags :latest; the API lets `repo` carry the tag,
            # which both engines honour.
            query["repo"] = "{0}:{1}".format(query["repo"], query.pop("tag"))
        if isinstance(source, str):
            query["fromSrc"] = source
            return self.stream("POST", "/images/create", params=query)
        query["fromSrc"] = "-"
        return self.stream("POST", "/images/create", params=query,
                           headers={"Content-Type": "application/octet-stream"}, data=source)


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
    return quote(name, safe="/:@")


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list, tuple)) and not (isinstance(value, list) and all(
            isinstance(v, str) for v in value)):
        return json.dumps(value)
    return value


def _reason(exc: BaseException) -> str:
    """The innermost useful text of a requests/urllib3 exception chain."""
    text = str(exc)
    for pattern in (r"\[(?:SSL|X509): [A-Z0-9_]+\].*?(?= \(_ssl\.c|['\"]\)|$)", r"\[Errno -?\d+\][^)'\"]*",
                    r"Connection refused", r"No such file or directory", r"hostname '[^']*' doesn't match[^)'\"]*",
                    r"certificate verify failed[^)'\"]*", r"EOF occurred in violation of protocol",
                    r"Remote end closed connection without response", r"IncompleteRead\([^)]*\)"):
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip().rstrip(",.")
    return text[:300]
