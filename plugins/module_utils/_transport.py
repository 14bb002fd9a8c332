# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How requests reach the engine: address, TLS, sessions, error statuses, and API version negotiation.

A Transport knows nothing about images.  It sends one request at a time (one HTTP session per
thread), turns error statuses and connection failures into the exceptions of ``_errors``, and
negotiates the API version once, producing the ``Engine`` record every versioned request uses.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import IO, TYPE_CHECKING, Any, Optional, Protocol
from urllib.parse import quote, urlsplit

from ansible_collections.moby.engine.plugins.module_utils._engines import (
    EngineIdentity,
    endpoint_missing,
    explain_error,
    identify_engine,
    refuse_unchecked_version,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    STATUS_ERRORS,
    EndpointMissing,
    EngineAPIError,
    EngineTimeout,
    EngineUnreachable,
    InvalidInput,
    MissingLibrary,
    StreamError,
    UnsupportedApiVersion,
)

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
    from requests_unixsocket.adapters import UnixHTTPConnection, UnixHTTPConnectionPool
except ImportError:
    requests_unixsocket = None
    UnixHTTPConnection = UnixHTTPConnectionPool = object
    UNIXSOCKET_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    UNIXSOCKET_IMPORT_ERROR = None

if TYPE_CHECKING:
    from ansible_collections.moby.engine.plugins.module_utils._stream import ProgressSummary

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
MIN_API_VERSION = "1.41"
# The newest API this collection is tested against (Docker 28.5); a newer engine is spoken to in this version,
# unless it no longer accepts it (its MinAPIVersion).
MAX_API_VERSION = "1.51"
DEFAULT_TIMEOUT = 60
STREAM_CHUNK_SIZE = 64 * 1024
# A file body that cannot go out with sendfile(2) is read in pieces of this size.
UPLOAD_CHUNK_SIZE = 1024 * 1024
_VERSION_RE = re.compile(r"^\d+\.\d+$")


class Writable(Protocol):
    """Where a download goes: a binary file, an in-memory file, or _files.DiskWriter."""

    def write(self, data: bytes) -> int:
        ...


class FileSpan:
    """``count`` bytes of a regular file from ``offset``: what a FileUpload sends.

    A SendfileConnection hands it to sendfile(2), so the bytes go from the page cache to the socket without being
    copied through Python. Any other connection of http.client's family (TCP, TLS) iterates it, as its ``send``
    does with whatever is not bytes, and gets UPLOAD_CHUNK_SIZE reads. Either way, no more than ``count`` bytes go
    out, and a file that got shorter meanwhile fails instead of leaving the engine waiting for the rest.
    """

    def __init__(self, file: IO[bytes], offset: int, count: int) -> None:
        self.file, self.offset, self.count = file, offset, count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[bytes]:
        self.file.seek(self.offset)
        left = self.count
        while left:
            data = self.file.read(min(left, UPLOAD_CHUNK_SIZE))
            if not data:
                raise self._shorter(left)
            left -= len(data)
            yield data

    def send_to(self, sock: Any) -> None:
        sent = sock.sendfile(self.file, self.offset, self.count)
        if sent < self.count:
            raise self._shorter(self.count - sent)

    @staticmethod
    def _shorter(missing: int) -> InvalidInput:
        return InvalidInput("the file got shorter while it was being sent ({0} bytes were missing)".format(missing))


class FileUpload:
    """The rest of a regular file of ``size`` bytes, from its current position, as a request body.

    requests sends ``len`` as Content-Length; urllib3 then hands each item of the body to the connection's
    ``send``, and the one item is a FileSpan. (Given the file itself, urllib3 would read and send 16 KiB at a
    time.)
    """

    def __init__(self, file: IO[bytes], size: int) -> None:
        offset = file.tell()
        self.len = max(size - offset, 0)
        self._spans = [FileSpan(file, offset, self.len)] if self.len else []

    def __iter__(self) -> Iterator[FileSpan]:
        return iter(self._spans)


def upload_body(source: IO[bytes] | Iterable[bytes]) -> Any:
    """The request body for an upload: the rest of a regular file as a FileUpload, any other stream in
    UPLOAD_CHUNK_SIZE reads, and an iterable of bytes as it is."""
    if not hasattr(source, "read"):
        return source
    try:
        info = os.fstat(source.fileno())
    except (AttributeError, OSError, ValueError):
        # io.BytesIO and other in-memory files have no descriptor (UnsupportedOperation is an OSError).
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        return FileUpload(source, info.st_size)
    return iter(partial(source.read, UPLOAD_CHUNK_SIZE), b"")


class SendfileConnection:
    """Mixed into a connection class of http.client's family whose socket is a plain one (a Unix socket, ssh's
    socketpair): a FileSpan goes out with sendfile(2).

    Loading a 1 GiB archive finished about 3% sooner than with 1 MiB reads and writes: on a host where the
    engine is busy unpacking what it receives, the copy through Python took CPU time from it.
    """

    sock: Any

    def send(self, data: Any) -> None:
        if isinstance(data, FileSpan):
            data.send_to(self.sock)
        else:
            super().send(data)  # type: ignore[misc]


class _UnixConnection(SendfileConnection, UnixHTTPConnection):  # type: ignore[misc,valid-type]
    """A connection to the engine's Unix socket."""


class _UnixConnectionPool(UnixHTTPConnectionPool):  # type: ignore[misc,valid-type]
    def _new_conn(self) -> _UnixConnection:
        return _UnixConnection(self.socket_path, self.timeout)


class OnePoolAdapter(HTTPAdapter):  # type: ignore[misc,valid-type]
    """A requests adapter with a single connection pool: every request of the session goes to the one engine, so
    connections are reused whatever the path (requests-unixsocket's own adapter keeps a pool per URL)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        super().__init__()

    def get_connection(self, url: Any, proxies: Any = None) -> Any:
        return self.pool

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None, cert: Any = None) -> Any:
        return self.pool

    def close(self) -> None:
        self.pool.close()
        super().close()


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _unixsocket_mismatch() -> Optional[str]:
    """Why the installed requests-unixsocket cannot work with the installed urllib3, or None.

    requests-unixsocket 0.3.0, the last for Python 3.8, builds its connection on http.client's, which urllib3 2 calls
    with arguments it does not take (every request would fail with a TypeError)."""
    import urllib3
    import urllib3.connection
    if issubclass(UnixHTTPConnection, urllib3.connection.HTTPConnection) or urllib3.__version__.startswith("1."):
        return None
    return ("The installed requests-unixsocket does not work with urllib3 {0} on the managed host's Python: install "
            "urllib3<2 there, as requirements.txt does for Python 3.8, or requests-unixsocket 0.4.0 or later (Python "
            "3.9 and later)".format(urllib3.__version__))


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
    ssh_config: Optional[str] = None

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
        if self.scheme not in ("unix", "tcp", "http", "https", "ssh"):
            raise InvalidInput(
                "docker_host {0!r} has an unsupported scheme; expected unix:///path/to/socket, "
                "tcp://host:port, http://host:port, https://host:port or ssh://[user@]host[:port]".format(
                    self.docker_host))
        if self.scheme == "unix" and urlsplit(self.docker_host).netloc:
            # unix://var/run/docker.sock parses as host "var" and path /run/docker.sock: refuse, don't guess.
            raise InvalidInput("docker_host {0!r} needs three slashes before an absolute socket path, as in "
                               "unix:///{1}".format(self.docker_host, self.docker_host[len("unix://"):].lstrip("/")))
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
        if self.timeout is None or self.timeout <= 0:
            # No limit at all would let a dead engine hang the task for ever; streamed operations already
            # wait as long as the engine works, so a bound here costs nothing.
            raise InvalidInput("timeout must be a positive number of seconds, got {0}".format(
                "null" if self.timeout is None else self.timeout))
        if bool(self.client_cert) != bool(self.client_key):
            raise InvalidInput("client_cert and client_key must be given together")

    @property
    def base_url(self) -> str:
        parts = urlsplit(self.docker_host)
        if parts.scheme == "unix":
            return "http+unix://" + quote(parts.path, safe="")
        if parts.scheme == "ssh":
            return _ssh().SSH_BASE_URL
        scheme = "https" if self.use_tls else "http"
        port = parts.port or (2376 if self.use_tls else 2375)
        host = parts.hostname or ""
        if ":" in host:
            host = "[{0}]".format(host)
        return "{0}://{1}:{2}".format(scheme, host, port)


@dataclass(frozen=True)
class Engine:
    """What negotiation learnt: which engine answers, the API version in use, and the engine's own."""

    identity: EngineIdentity
    api_version: str
    engine_api_version: Optional[str] = None

    def describe(self) -> str:
        """``Podman 4.3.1 (API 1.41)``, for messages about what this engine cannot do."""
        return self.identity.describe(self.engine_api_version or self.api_version)


class Transport:
    """Requests to one engine (thread-safe: one HTTP session per thread)."""

    def __init__(self, config: EngineConfig) -> None:
        if requests is None:
            raise MissingLibrary("requests", _missing_library_message("requests"), REQUESTS_IMPORT_ERROR)
        config.validate()
        if config.scheme == "unix" and requests_unixsocket is None:
            raise MissingLibrary("requests-unixsocket", _missing_library_message("requests-unixsocket"),
                                 UNIXSOCKET_IMPORT_ERROR)
        mismatch = _unixsocket_mismatch() if config.scheme == "unix" else None
        if mismatch:
            raise MissingLibrary("requests-unixsocket", mismatch)
        self.config = config
        self._local = threading.local()
        self._engine: Optional[Engine] = None
        self._negotiation_lock = threading.Lock()

    # -- sessions ----------------------------------------------------------

    def _new_session(self) -> Any:
        config = self.config
        if config.scheme == "unix":
            session = requests.Session()
            # A socket path is no host: proxies from the environment must not apply to it.
            session.trust_env = False
            session.mount(config.base_url, OnePoolAdapter(_UnixConnectionPool(config.base_url, config.timeout)))
            return session
        if config.scheme == "ssh":
            ssh = _ssh()
            session = requests.Session()
            # The URL names no real host: proxies from the environment must not apply to it.
            session.trust_env = False
            session.mount(ssh.SSH_BASE_URL, ssh.SSHAdapter(
                ssh.ssh_command(config.docker_host, config.timeout, config.ssh_config), config.timeout))
            return session
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

    # -- the engine --------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The negotiated engine; the first use pings it, later ones reuse the answer."""
        if self._engine is None:
            with self._negotiation_lock:
                if self._engine is None:
                    self._engine = self._negotiate()
        return self._engine

    def _negotiate(self) -> Engine:
        # /_ping is unversioned, so negotiation needs no version yet. It is asked even for a fixed
        # api_version: anything but an engine at docker_host (a registry, a web server) answers 404 to
        # every path, and inspect_image would then report every image as missing.
        try:
            response = self.request("GET", "/_ping", versioned=False)
        except EngineAPIError as exc:
            raise EngineUnreachable(
                "the server at {0} is not a Docker engine (GET /_ping answered {1}: {2}). Check that docker_host "
                "(or DOCKER_HOST) points at dockerd".format(self.config.docker_host, exc.status, exc.message[:200]))
        identity = identify_engine(response.headers)
        offered = response.headers.get("Api-Version")
        if self.config.api_version != "auto":
            wanted = str(self.config.api_version)
            refuse_unchecked_version(identity, wanted, offered, self.config.docker_host)
            return Engine(identity, wanted, offered if offered and _VERSION_RE.match(offered) else None)
        if not offered:
            offered = self.request("GET", "/version", versioned=False).json().get("ApiVersion")
        if not offered or not _VERSION_RE.match(offered):
            raise UnsupportedApiVersion("the engine at {0} did not report its API version".format(
                self.config.docker_host))
        if version_tuple(offered) < version_tuple(MIN_API_VERSION):
            raise UnsupportedApiVersion(
                "the engine at {0} speaks API {1}; moby.engine needs {2} or newer (Docker 20.10+). "
                "Upgrade the engine".format(self.config.docker_host, offered, MIN_API_VERSION))
        if version_tuple(offered) <= version_tuple(MAX_API_VERSION):
            return Engine(identity, offered, offered)
        # Only an engine newer than this collection can refuse what the collection speaks: ask its minimum.
        minimum = self.engine_versions()[0]
        if minimum and version_tuple(minimum) > version_tuple(MAX_API_VERSION):
            raise UnsupportedApiVersion(
                "the engine at {0} accepts API {1} to {2}; moby.engine speaks {3} to {4}. Upgrade moby.engine, or "
                "start the engine with DOCKER_MIN_API_VERSION={4}".format(
                    self.config.docker_host, minimum, offered, MIN_API_VERSION, MAX_API_VERSION))
        return Engine(identity, MAX_API_VERSION, offered)

    def engine_versions(self) -> tuple:
        """(MinAPIVersion, ApiVersion) from GET /version (unversioned); None where the engine does not say."""
        try:
            answer = self.json_of(self.request("GET", "/version", versioned=False), "GET", "/version")
        except EngineAPIError:
            return None, None
        if not isinstance(answer, dict):
            return None, None
        return tuple(answer.get(key) if _VERSION_RE.match(str(answer.get(key) or "")) else None
                     for key in ("MinAPIVersion", "ApiVersion"))

    # -- requests ----------------------------------------------------------

    def _timeout(self, streamed: bool) -> tuple[float, Optional[float]]:
        # (connect, read). A streamed answer (pull, push, build, load, export) may be silent for as long as
        # the engine works on a step, as with the docker CLI, so only connecting is bounded there.
        return (self.config.timeout, None if streamed else self.config.timeout)

    def url(self, path: str, versioned: bool = True) -> str:
        prefix = "/v" + self.engine.api_version if versioned else ""
        return self.config.base_url + prefix + path

    def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, data: Any = None, json_body: Any = None,
                stream: bool = False, versioned: bool = True) -> Any:
        """Send one request; return the response or raise the matching engine error."""
        url = self.url(path, versioned)
        query = {key: _query_value(value) for key, value in (params or {}).items() if value is not None}
        timeout = self._timeout(stream)
        try:
            # The Engine API never redirects; following one would carry X-Registry-Auth to another host.
            response = self.session.request(method, url, params=query, headers=dict(headers or {}), data=data,
                                            json=json_body, stream=stream, timeout=timeout, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise EngineUnreachable(
                "TLS connection to the engine at {0} failed: {1}{2}. Check ca_path, client_cert, client_key "
                "and tls_hostname (or DOCKER_CERT_PATH)".format(self.config.docker_host, _reason(exc),
                                                                self._refusal_hint(exc) + self._verification_hint(exc)))
        except requests.exceptions.Timeout:
            raise EngineTimeout("the engine at {0} did not answer within {1} s (the timeout option; raise it for a "
                                "slow engine)".format(self.config.docker_host, self.config.timeout))
        except (requests.exceptions.ConnectionError, OSError) as exc:
            raise self._connection_error(exc)
        if 300 <= response.status_code < 400:
            response.close()
            raise EngineAPIError("the server at {0} answered {1} {2} with a redirect ({3}) to {4!r}; an engine never "
                                 "redirects, so check that docker_host points at the engine itself".format(
                                     self.config.docker_host, method, path, response.status_code,
                                     response.headers.get("Location", "")[:200]), status=response.status_code)
        if response.status_code >= 400:
            raise self._error(response, method, path)
        return response

    def _connection_error(self, exc: BaseException) -> Exception:
        if self.config.scheme == "ssh":
            said = self.session.get_adapter(_ssh().SSH_BASE_URL).last_failure()
            return EngineUnreachable("cannot reach the engine at {0} through ssh: {1}. Check that ssh to that host "
                                     "works non-interactively (keys, known hosts) and that the docker CLI is installed "
                                     "there".format(self.config.docker_host, said or _reason(exc)))
        if "invalid path" in str(exc):
            # requests checks the certificate files only when it connects, and says so with an OSError.
            return InvalidInput("{0}; check ca_path, client_cert and client_key (or DOCKER_CERT_PATH)".format(exc))
        # requests_unixsocket reports a socket that is missing or refuses as "Connection aborted" too,
        # but those errors only happen before anything was connected.
        if "Connection aborted" in str(exc) and not re.search(r"No such file or directory|Connection refused",
                                                              str(exc)):
            # Connected, then the engine went away in the middle of the request (stopped, crashed).
            return EngineUnreachable("the connection to the engine at {0} broke off: {1}. Check that dockerd is "
                                     "still running, then rerun".format(self.config.docker_host, _reason(exc)))
        return EngineUnreachable(
            "cannot connect to the engine at {0}: {1}. Check that dockerd is running and that "
            "docker_host (or DOCKER_HOST) points at it".format(self.config.docker_host, _reason(exc)))

    def _verification_hint(self, exc: BaseException) -> str:
        # community.docker's tls: true does not verify; a playbook moved over may rely on that.
        if "certificate verify failed" not in str(exc) or self.config.validate_certs is not None:
            return ""
        return (" (tls: true verifies the engine's certificate here, unlike community.docker's: give ca_path, "
                "or set validate_certs: false to connect without verifying)")

    def _refusal_hint(self, exc: BaseException) -> str:
        # An alert comes from the engine's side of the handshake: with --tlsverify it wants a client
        # certificate signed by its CA, which is easy to miss in OpenSSL's wording.
        if "ALERT" not in str(exc) and "EOF occurred" not in str(exc):
            return ""
        if self.config.client_cert:
            return " (the engine refused the client certificate {0}: it must be signed by a CA the engine " \
                   "trusts)".format(self.config.client_cert)
        return " (the engine wants a client certificate: set client_cert and client_key)"

    def _error(self, response: Any, method: str, path: str) -> EngineAPIError:
        try:
            body = response.json()
        except ValueError:
            body = None
        # A proxy in front of the engine may answer with any JSON, or none.
        message = (body.get("message") if isinstance(body, dict) else None) or response.text
        message = _echoable((message or response.reason or "").strip())
        if "HTTP request to an HTTPS server" in message:
            return EngineUnreachable(
                "the engine at {0} expects TLS; set tls: true (and the certificates)".format(
                    self.config.docker_host))
        if response.status_code == 400 and "client version" in message:
            return UnsupportedApiVersion("the engine refused API version {0}: {1}{2}".format(
                self._engine.api_version if self._engine else "?", message, self._accepted_versions()))
        if self._engine is not None and endpoint_missing(self._engine.identity, response.status_code, message):
            return EndpointMissing("{0} has no {1} {2} endpoint".format(self._engine.describe(), method, path),
                                   status=404)
        error_class = STATUS_ERRORS.get(response.status_code, EngineAPIError)
        return error_class(self.explain(message), status=response.status_code)

    def _accepted_versions(self) -> str:
        minimum, maximum = self.engine_versions()
        if not (minimum and maximum):
            return ""
        return ". The engine accepts API {0} to {1}; set api_version to one of those (moby.engine speaks {2} to {3}), " \
               "or to auto".format(minimum, maximum, MIN_API_VERSION, MAX_API_VERSION)

    def explain(self, message: str) -> str:
        identity = self._engine.identity if self._engine is not None else EngineIdentity()
        return explain_error(message, identity)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        return self.json_of(self.request("GET", path, params=params, headers=headers), "GET", path)

    def json_of(self, response: Any, method: str, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            # Seen from Podman 4.3 (GET /images/json?digests=1 answers 200 with an empty body).
            raise EngineAPIError("the engine at {0} answered {1} {2} with {3!r}, which is not JSON".format(
                self.config.docker_host, method, path, (response.text or "")[:200]), status=response.status_code)

    def stream(self, method: str, path: str, params: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None, data: Any = None) -> ProgressSummary:
        """Send a request whose answer is a JSON progress stream; return its summary."""
        # Imported here, not at the top: a task that streams nothing (image_info, image_tag...) does not pay for
        # the stream parser (module start cost, issue #16).
        from ansible_collections.moby.engine.plugins.module_utils._stream import ProgressSummary, decode_json_stream
        summary = ProgressSummary()
        response = self.request(method, path, params=params, headers=headers, data=data, stream=True)
        with response:
            try:
                summary.consume(decode_json_stream(self._iter_chunks(response)))
            except StreamError as exc:
                explained = self.explain(exc.message)
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

    def download(self, path: str, destination: Writable, params: Mapping[str, Any] | None = None) -> int:
        """Stream a binary response into ``destination``; return the byte count.

        The chunks are written as they come (64 KiB reads: larger ones measured slower, the copies falling out
        of the CPU cache); how they reach the disk is the destination's business (_files.DiskWriter).
        """
        written = 0
        response = self.request("GET", path, params=params, stream=True)
        with response:
            for chunk in self._iter_chunks(response):
                destination.write(chunk)
                written += len(chunk)
        return written


def _ssh() -> Any:
    """The ssh transport, imported only by tasks that use it (it brings subprocess and tempfile)."""
    from ansible_collections.moby.engine.plugins.module_utils import _ssh as ssh_transport
    return ssh_transport


# An error body is quoted in the task's message: a proxy's page or an echo of the request must not flood it.
MAX_ECHOED_BODY = 1024
_REGISTRY_HEADER_RE = re.compile(r"(X-Registry-(?:Auth|Config)\W{1,3})[A-Za-z0-9_=+/-]{8,}", re.IGNORECASE)


def _echoable(message: str) -> str:
    """An engine's (or a proxy's) error text as it may go into a message: registry header values removed, and
    at most MAX_ECHOED_BODY characters."""
    message = _REGISTRY_HEADER_RE.sub(r"\1(removed)", message)
    if len(message) > MAX_ECHOED_BODY:
        message = message[:MAX_ECHOED_BODY] + "... ({0} more characters not shown)".format(len(message) - MAX_ECHOED_BODY)
    return message


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
