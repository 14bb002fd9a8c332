# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Transport: API version negotiation, error statuses, connection failures, timeouts, sessions and
EngineConfig, against the shared fake engine (faults scripted with ``engine.on``)."""

from __future__ import annotations

import http.client
import threading

import pytest
import requests
import urllib3

from ansible_collections.moby.engine.plugins.module_utils import _transport
from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    EngineAPIError,
    EngineTimeout,
    EngineUnreachable,
    InvalidInput,
    MissingLibrary,
    NotFound,
    ServerError,
    UnsupportedApiVersion,
)
from ansible_collections.moby.engine.plugins.module_utils._transport import (
    MAX_API_VERSION,
    MIN_API_VERSION,
    EngineConfig,
    Transport,
    _query_value,
    version_tuple,
)
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import TCP_HOST, FakeEngine, Reply, error

IMAGE_ID = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741"


def ping_without_version(engine):
    answer = engine._ping()
    del answer.headers["Api-Version"]
    engine.on("GET", "/_ping", answer)


# -- API version negotiation -------------------------------------------------

def test_engine_141_uses_141(docker):
    client, engine = docker
    engine.add_image("busybox:1.36", image_id=IMAGE_ID)
    assert client.inspect_image("busybox:1.36")["Id"] == IMAGE_ID
    assert client.inspect_image("busybox:1.36")["Id"] == IMAGE_ID
    assert client.engine.api_version == "1.41"
    assert client.engine.engine_api_version == "1.41"
    # /_ping is unversioned and asked once per client.
    assert engine.calls() == [("GET", "/_ping"), ("GET", "/images/busybox:1.36/json"),
                              ("GET", "/images/busybox:1.36/json")]
    assert [request.version for request in engine.requests] == [None, "1.41", "1.41"]


def test_engine_in_range_used_as_is(fake_engine):
    client, _engine = fake_engine(speaks="1.45")
    assert client.engine.api_version == "1.45"
    assert client.engine.engine_api_version == "1.45"


def test_newer_engine_capped_at_max(fake_engine):
    client, engine = fake_engine(speaks="1.52")
    engine.add_image("app:1", image_id=IMAGE_ID)
    client.tag_image(IMAGE_ID, "registry.example.com/team/app", "stable")
    assert MAX_API_VERSION == "1.51"
    assert client.engine.api_version == "1.51"
    assert client.engine.engine_api_version == "1.52"
    # Only an engine newer than the collection is asked for its minimum.
    assert engine.calls() == [("GET", "/_ping"), ("GET", "/version"), ("POST", "/images/" + IMAGE_ID + "/tag")]
    assert engine.last("POST").query == {"repo": "registry.example.com/team/app", "tag": "stable"}
    assert engine.last("POST").version == "1.51"


def test_newer_engine_that_refuses_our_versions(fake_engine):
    client, engine = fake_engine(speaks="1.60")
    engine.on("GET", "/version", Reply(200, {"ApiVersion": "1.60", "MinAPIVersion": "1.52"}))
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.inspect_image("busybox")
    assert str(exc.value) == ("the engine at tcp://127.0.0.1:2375 accepts API 1.52 to 1.60; moby.engine speaks 1.41 "
                              "to 1.51. Upgrade moby.engine, or start the engine with DOCKER_MIN_API_VERSION=1.51")


def test_version_compared_numerically(fake_engine):
    # "1.100" sorts before "1.51" as text; as a version it is newer.
    client, _engine = fake_engine(speaks="1.100")
    assert client.engine.api_version == MAX_API_VERSION
    assert version_tuple("1.9") < version_tuple("1.41") < version_tuple("1.100")


def test_old_engine_rejected(fake_engine):
    client, engine = fake_engine(speaks="1.40")
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.inspect_image("busybox")
    assert MIN_API_VERSION == "1.41"
    assert str(exc.value) == ("the engine at tcp://127.0.0.1:2375 speaks API 1.40; moby.engine needs 1.41 or "
                              "newer (Docker 20.10+). Upgrade the engine")
    assert engine.calls() == [("GET", "/_ping")]


def test_missing_api_version_header_falls_back_to_version(fake_engine):
    client, engine = fake_engine(speaks="1.42")
    ping_without_version(engine)
    assert client.engine.api_version == "1.42"
    assert engine.calls() == [("GET", "/_ping"), ("GET", "/version")]


def test_no_version_anywhere(docker):
    client, engine = docker
    ping_without_version(engine)
    engine.on("GET", "/version", Reply(200, {}))
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.engine  # pylint: disable=pointless-statement
    assert str(exc.value) == "the engine at tcp://127.0.0.1:2375 did not report its API version"


def test_explicit_api_version_is_used_as_given(fake_engine):
    client, engine = fake_engine(speaks="1.43", api_version="1.42")
    engine.add_image("busybox", image_id=IMAGE_ID)
    assert client.inspect_image("busybox")["Id"] == IMAGE_ID
    assert engine.calls() == [("GET", "/_ping"), ("GET", "/images/busybox/json")]
    assert engine.last().version == "1.42"
    assert (client.engine.api_version, client.engine.engine_api_version) == ("1.42", "1.43")


def test_explicit_api_version_still_checks_that_an_engine_answers(fake_engine):
    client, engine = fake_engine(api_version="1.42")
    engine.on("GET", "/_ping", error(404, "page not found"))
    with pytest.raises(EngineUnreachable) as exc:
        client.inspect_image("busybox")
    assert "is not a Docker engine (GET /_ping answered 404: page not found)" in str(exc.value)


def test_client_version_too_new(fake_engine):
    client, _engine = fake_engine(api_version="1.99")
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.inspect_image("busybox")
    assert str(exc.value) == ("the engine refused API version 1.99: client version 1.99 is too new. "
                              "Maximum supported API version is 1.41. The engine accepts API 1.12 to 1.41; set "
                              "api_version to one of those (moby.engine speaks 1.41 to 1.51), or to auto")


def test_podman_fixed_api_version_newer_than_offered_is_refused(fake_engine):
    client, engine = fake_engine("podman", api_version="9.99")
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.inspect_image("app:1")
    assert str(exc.value) == ("moby.engine refused API version 9.99: the engine at tcp://127.0.0.1:2375 is Podman 4.3.1 "
                              "(API 1.41), which does not check the version it is asked for; use api_version auto "
                              "or 1.41")
    assert engine.calls() == [("GET", "/_ping")]


def test_engine_identity_from_ping(docker, fake_engine):
    client, _engine = docker
    assert client.engine.describe() == "Docker 20.10.24+dfsg1 (API 1.41)"
    assert client.engine.identity.is_podman is False
    client, _engine = fake_engine("podman")
    assert client.engine.describe() == "Podman 4.3.1 (API 1.41)"
    assert client.engine.identity.is_podman is True


# -- errors ------------------------------------------------------------------

@pytest.mark.parametrize("status, error_class, message", [
    (400, BadRequest, "invalid tag format"),
    (401, AuthenticationFailed, "unauthorized"),
    (404, NotFound, "No such image: busybox:nope"),
    (409, Conflict, 'conflict: unable to remove repository reference "busybox" (must force) - container '
                    "0123456789ab is using its referenced image 3f57d9401f8d"),
    (500, ServerError, "driver failed"),
])
def test_status_maps_to_exception(docker, status, error_class, message):
    client, engine = docker
    engine.on("DELETE", "/images/busybox", error(status, message))
    with pytest.raises(error_class) as exc:
        client.remove_image("busybox")
    assert exc.value.message == message
    assert str(exc.value) == message
    assert exc.value.status == status


def test_unmapped_status_is_engine_api_error(docker):
    client, engine = docker
    engine.on("DELETE", "/images/busybox", error(403, "forbidden by plugin"))
    with pytest.raises(EngineAPIError) as exc:
        client.remove_image("busybox")
    assert not isinstance(exc.value, (BadRequest, AuthenticationFailed, NotFound, Conflict, ServerError))
    assert exc.value.status == 403
    assert exc.value.message == "forbidden by plugin"


def test_error_body_not_json(docker):
    client, engine = docker
    engine.on("GET", "/images/json", Reply(502, "bad gateway\n", reason="Bad Gateway"))
    engine.on("GET", "/system/df", Reply(500, "", reason="Internal Server Error"))
    with pytest.raises(EngineAPIError) as exc:
        client.list_images()
    assert exc.value.message == "bad gateway"
    with pytest.raises(ServerError) as exc:
        client.system_df()
    assert exc.value.message == "Internal Server Error"


def test_error_body_json_but_not_an_object(docker):
    client, engine = docker
    engine.on("GET", "/images/json", Reply(502, '["proxy says no"]', reason="Bad Gateway"))
    with pytest.raises(EngineAPIError) as exc:
        client.list_images()
    assert exc.value.message == '["proxy says no"]'
    assert exc.value.status == 502


def test_empty_body_is_a_clear_error(docker):
    client, engine = docker
    engine.on("GET", "/images/json", Reply(200, ""))
    with pytest.raises(EngineAPIError) as exc:
        client.list_images(digests=True)
    assert str(exc.value) == "the engine at tcp://127.0.0.1:2375 answered GET /images/json with '', which is not JSON"


def test_redirect_is_refused_not_followed(docker):
    client, engine = docker
    engine.on("GET", "/images/json", Reply(301, "", {"Location": "http://elsewhere.example.com/"}))
    with pytest.raises(EngineAPIError) as exc:
        client.list_images()
    assert str(exc.value) == ("the server at tcp://127.0.0.1:2375 answered GET /images/json with a redirect (301) to "
                              "'http://elsewhere.example.com/'; an engine never redirects, so check that docker_host "
                              "points at the engine itself")


def test_http_request_to_https_server(fake_engine):
    client, engine = fake_engine(docker_host="tcp://engine.example.com:2376")
    engine.on("GET", "/_ping", Reply(400, "Client sent an HTTP request to an HTTPS server.\n",
                                     {"Content-Type": "text/plain"}))
    with pytest.raises(EngineUnreachable) as exc:
        client.inspect_image("busybox")
    assert str(exc.value) == ("the engine at tcp://engine.example.com:2376 expects TLS; set tls: true "
                              "(and the certificates)")


def test_connection_refused(docker):
    client, engine = docker
    engine.on("GET", "/_ping", requests.exceptions.ConnectionError(
        "HTTPConnectionPool(host='127.0.0.1', port=2375): Max retries exceeded with url: /_ping (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f3a>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"))
    with pytest.raises(EngineUnreachable) as exc:
        client.inspect_image("busybox")
    assert str(exc.value) == ("cannot connect to the engine at tcp://127.0.0.1:2375: [Errno 111] Connection "
                              "refused. Check that dockerd is running and that docker_host (or DOCKER_HOST) "
                              "points at it")


def test_missing_socket(fake_engine):
    pytest.importorskip("requests_unixsocket")
    client, engine = fake_engine(docker_host="unix:///run/nothing.sock")
    engine.on("GET", "/_ping", requests.exceptions.ConnectionError(
        "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"))
    with pytest.raises(EngineUnreachable) as exc:
        client.engine  # pylint: disable=pointless-statement
    assert str(exc.value) == ("cannot connect to the engine at unix:///run/nothing.sock: No such file or directory. "
                              "Check that dockerd is running and that docker_host (or DOCKER_HOST) points at it")


def test_timeout(fake_engine):
    client, engine = fake_engine(timeout=5)
    engine.on("GET", "/_ping", requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(EngineTimeout) as exc:
        client.engine  # pylint: disable=pointless-statement
    assert isinstance(exc.value, EngineUnreachable)
    assert str(exc.value) == ("the engine at tcp://127.0.0.1:2375 did not answer within 5 s (the timeout option; "
                              "raise it for a slow engine)")


def test_ssl_error(fake_engine):
    client, engine = fake_engine(docker_host="tcp://engine:2376", tls=True)
    engine.on("GET", "/_ping", requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='engine', port=2376): Max retries exceeded (Caused by SSLError("
        "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self signed "
        "certificate (_ssl.c:1006)')))"))
    with pytest.raises(EngineUnreachable) as exc:
        client.engine  # pylint: disable=pointless-statement
    assert str(exc.value).startswith("TLS connection to the engine at tcp://engine:2376 failed: "
                                     "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert "ca_path" in str(exc.value)


def test_stream_broken_off(docker):
    client, engine = docker
    engine.on("POST", "/images/create", Reply(200, chunks=[b'{"status":"Pulling from library/busybox","id":"1"}\r\n'],
                                              broken=requests.exceptions.ChunkedEncodingError(
                                                  "Connection broken: IncompleteRead")))
    with pytest.raises(EngineUnreachable) as exc:
        client.pull_image("busybox", "1", "e30=")
    assert str(exc.value).startswith("the connection to the engine at tcp://127.0.0.1:2375 broke off: ")


# -- request shape -----------------------------------------------------------

def test_query_value():
    assert _query_value(True) == "1"
    assert _query_value(False) == "0"
    assert _query_value(3) == 3
    assert _query_value("x") == "x"
    assert _query_value(["a", "b"]) == ["a", "b"]
    assert _query_value({"a": ["b"]}) == '{"a": ["b"]}'
    assert _query_value([1, 2]) == "[1, 2]"
    assert _query_value(("a",)) == '["a"]'


def test_timeouts_passed_to_session(fake_engine):
    client, engine = fake_engine(timeout=17)
    client.engine  # pylint: disable=pointless-statement
    assert engine.requests[0].timeout == (17, 17)
    assert engine.requests[0].stream is False
    engine.publish("busybox:1")
    client.pull_image("busybox", "1", "e30=")
    # A streamed answer may be silent while the engine works: only connecting is bounded.
    assert engine.last().timeout == (17, None)
    assert engine.last().stream is True


def test_unix_socket_base_url(fake_engine):
    pytest.importorskip("requests_unixsocket")
    client, engine = fake_engine(docker_host="unix:///var/run/docker.sock")
    assert client.config.base_url == "http+unix://%2Fvar%2Frun%2Fdocker.sock"
    assert client.engine.api_version == "1.41"
    assert engine.calls() == [("GET", "/_ping")]


# -- sessions ----------------------------------------------------------------

def test_session_per_thread(monkeypatch):
    created = []

    def new_session(self):
        session = FakeEngine(base_url=self.config.base_url)
        created.append(session)
        return session

    monkeypatch.setattr(Transport, "_new_session", new_session)
    transport = Transport(EngineConfig(docker_host=TCP_HOST))
    main_session = transport.session
    assert transport.session is main_session
    seen = []
    thread = threading.Thread(target=lambda: seen.append(transport.session))
    thread.start()
    thread.join()
    assert seen[0] is not main_session
    assert len(created) == 2
    transport.close()
    assert main_session.closed is True


def test_negotiation_happens_once_across_threads(docker):
    client, engine = docker
    threads = [threading.Thread(target=lambda: client.engine) for _number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.calls() == [("GET", "/_ping")]


def test_real_tls_session():
    transport = Transport(EngineConfig(docker_host="tcp://engine:2376", tls=True, ca_path="/certs/ca.pem",
                                       client_cert="/certs/cert.pem", client_key="/certs/key.pem",
                                       tls_hostname="docker.example.com"))
    session = transport._new_session()
    assert session.verify == "/certs/ca.pem"
    assert session.cert == ("/certs/cert.pem", "/certs/key.pem")
    assert isinstance(session.get_adapter("https://engine:2376"), _transport._TLSAdapter)
    assert session.get_adapter("https://engine:2376")._tls_hostname == "docker.example.com"


def test_real_tls_session_without_verification():
    transport = Transport(EngineConfig(docker_host="tcp://engine:2376", tls=True, validate_certs=False,
                                       ca_path="/certs/ca.pem"))
    assert transport._new_session().verify is False
    verified = Transport(EngineConfig(docker_host="tcp://engine:2376", tls=True))._new_session()
    assert verified.verify is True
    assert verified.cert is None


def test_real_unix_session():
    unixsocket = pytest.importorskip("requests_unixsocket")
    transport = Transport(EngineConfig(docker_host="unix:///var/run/docker.sock", timeout=17))
    session = transport._new_session()
    # Proxy variables name hosts; the socket is none, and must not be sent through one.
    assert session.trust_env is False
    adapter = session.get_adapter("http+unix://%2Fvar%2Frun%2Fdocker.sock/v1.41/images/json")
    assert isinstance(adapter, _transport.OnePoolAdapter)
    assert isinstance(adapter.pool, unixsocket.adapters.UnixHTTPConnectionPool)
    assert (adapter.pool.socket_path, adapter.pool.timeout) == ("http+unix://%2Fvar%2Frun%2Fdocker.sock", 17)
    connection = adapter.pool._new_conn()
    assert isinstance(connection, _transport.SendfileConnection)
    assert isinstance(connection, unixsocket.adapters.UnixHTTPConnection)


# -- EngineConfig ------------------------------------------------------------

@pytest.mark.parametrize("docker_host", ["ftp://host", "npipe:////./pipe/docker_engine", "/var/run/docker.sock",
                                         "host:2375"])
def test_validate_rejects_scheme(docker_host):
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(docker_host=docker_host).validate()
    assert "unsupported scheme" in str(exc.value)
    assert repr(docker_host) in str(exc.value)


@pytest.mark.parametrize("docker_host", ["unix://", "unix:"])
def test_validate_rejects_missing_socket_path(docker_host):
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(docker_host=docker_host).validate()
    assert "names no socket path" in str(exc.value)


def test_validate_rejects_two_slash_unix_path():
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(docker_host="unix://var/run/docker.sock").validate()
    assert str(exc.value) == ("docker_host 'unix://var/run/docker.sock' needs three slashes before an absolute socket "
                              "path, as in unix:///var/run/docker.sock")


@pytest.mark.parametrize("docker_host", ["tcp://host:abc", "tcp://host:99999", "https://host:-1"])
def test_validate_rejects_bad_port(docker_host):
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(docker_host=docker_host).validate()
    assert str(exc.value) == "docker_host {0!r} has an invalid port".format(docker_host)


def test_validate_rejects_missing_host():
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(docker_host="tcp://:2375").validate()
    assert "names no host" in str(exc.value)


@pytest.mark.parametrize("api_version", ["latest", "v1.41", "1", "1.41.0", "1.x", ""])
def test_validate_rejects_api_version(api_version):
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(api_version=api_version).validate()
    assert "is not 'auto' or a version like 1.43" in str(exc.value)


def test_validate_rejects_api_version_older_than_supported():
    with pytest.raises(UnsupportedApiVersion) as exc:
        EngineConfig(api_version="1.40").validate()
    assert str(exc.value) == ("api_version 1.40 is older than moby.engine supports: it needs 1.41 or newer "
                              "(Docker 20.10+); use 'auto'")


@pytest.mark.parametrize("timeout", [0, -5])
def test_validate_rejects_timeout(timeout):
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(timeout=timeout).validate()
    assert str(exc.value) == "timeout must be a positive number of seconds, got {0}".format(timeout)


@pytest.mark.parametrize("cert, key", [("/c/cert.pem", None), (None, "/c/key.pem")])
def test_validate_rejects_cert_without_key(cert, key):
    with pytest.raises(InvalidInput) as exc:
        EngineConfig(docker_host="tcp://h:2376", tls=True, client_cert=cert, client_key=key).validate()
    assert str(exc.value) == "client_cert and client_key must be given together"


@pytest.mark.parametrize("config", [
    {},
    {"docker_host": "tcp://127.0.0.1:2375"},
    {"docker_host": "https://engine.example.com", "api_version": "1.43", "timeout": 1},
    {"docker_host": "tcp://[::1]:2376", "client_cert": "c", "client_key": "k", "tls": True},
    {"docker_host": "ssh://user@host"},
])
def test_validate_accepts(config):
    EngineConfig(**config).validate()


def test_transport_validates_config():
    with pytest.raises(InvalidInput):
        EngineClient(EngineConfig(docker_host="ftp://x"))


@pytest.mark.parametrize("config, base_url", [
    ({"docker_host": "unix:///var/run/docker.sock"}, "http+unix://%2Fvar%2Frun%2Fdocker.sock"),
    ({"docker_host": "unix:///run/user/1000/docker.sock"}, "http+unix://%2Frun%2Fuser%2F1000%2Fdocker.sock"),
    ({"docker_host": "tcp://127.0.0.1:2375"}, "http://127.0.0.1:2375"),
    ({"docker_host": "tcp://engine.example.com"}, "http://engine.example.com:2375"),
    ({"docker_host": "tcp://engine.example.com", "tls": True}, "https://engine.example.com:2376"),
    ({"docker_host": "tcp://engine.example.com", "validate_certs": True}, "https://engine.example.com:2376"),
    ({"docker_host": "tcp://engine.example.com:2375", "tls": True}, "https://engine.example.com:2375"),
    ({"docker_host": "http://engine.example.com"}, "http://engine.example.com:2375"),
    ({"docker_host": "http://engine.example.com:8080"}, "http://engine.example.com:8080"),
    ({"docker_host": "https://engine.example.com"}, "https://engine.example.com:2376"),
    ({"docker_host": "https://engine.example.com:443"}, "https://engine.example.com:443"),
    ({"docker_host": "tcp://[::1]:2375"}, "http://[::1]:2375"),
    ({"docker_host": "tcp://[2001:db8::1]", "tls": True}, "https://[2001:db8::1]:2376"),
])
def test_base_url(config, base_url):
    assert EngineConfig(**config).base_url == base_url


@pytest.mark.parametrize("config, use_tls, verify", [
    ({}, False, True),
    ({"tls": True}, True, True),
    ({"tls": True, "validate_certs": True}, True, True),
    ({"tls": True, "validate_certs": False}, True, False),
    ({"validate_certs": True}, True, True),
    ({"validate_certs": False}, False, False),
    ({"docker_host": "https://engine"}, True, True),
    ({"docker_host": "https://engine", "validate_certs": False}, True, False),
])
def test_tls_and_verify(config, use_tls, verify):
    config.setdefault("docker_host", "tcp://engine:2376")
    engine_config = EngineConfig(**config)
    assert engine_config.use_tls is use_tls
    assert engine_config.verify is verify


def test_missing_requests(monkeypatch):
    monkeypatch.setattr(_transport, "requests", None)
    monkeypatch.setattr(_transport, "REQUESTS_IMPORT_ERROR", "Traceback: No module named 'requests'")
    with pytest.raises(MissingLibrary) as exc:
        EngineClient(EngineConfig())
    assert exc.value.library == "requests"
    assert str(exc.value).startswith("Failed to import the required Python library (requests)")
    assert exc.value.traceback_text == "Traceback: No module named 'requests'"


def test_missing_requests_unixsocket_only_for_unix(monkeypatch):
    monkeypatch.setattr(_transport, "requests_unixsocket", None)
    with pytest.raises(MissingLibrary) as exc:
        EngineClient(EngineConfig(docker_host="unix:///var/run/docker.sock"))
    assert exc.value.library == "requests-unixsocket"
    EngineClient(EngineConfig(docker_host=TCP_HOST))


class _HttpClientConnection(http.client.HTTPConnection):
    """requests-unixsocket 0.3.0's connection: built on http.client's, not urllib3's."""


@pytest.mark.parametrize("urllib3_version, refused", [("2.2.3", True), ("1.26.20", False)])
def test_requests_unixsocket_0_3_is_refused_with_urllib3_2(monkeypatch, urllib3_version, refused):
    # On Python 3.8 (requests-unixsocket 0.3.0 and urllib3 2.2.3) every request failed with "request() got an
    # unexpected keyword argument 'chunked'".
    monkeypatch.setattr(_transport, "UnixHTTPConnection", _HttpClientConnection)
    monkeypatch.setattr(urllib3, "__version__", urllib3_version)
    if not refused:
        EngineClient(EngineConfig(docker_host="unix:///var/run/docker.sock"))
        return
    with pytest.raises(MissingLibrary) as exc:
        EngineClient(EngineConfig(docker_host="unix:///var/run/docker.sock"))
    assert exc.value.library == "requests-unixsocket"
    assert str(exc.value) == (
        "The installed requests-unixsocket does not work with urllib3 2.2.3 on the managed host's Python: install "
        "urllib3<2 there, as requirements.txt does for Python 3.8, or requests-unixsocket 0.4.0 or later (Python 3.9 "
        "and later)")
    EngineClient(EngineConfig(docker_host=TCP_HOST))


def test_installed_requests_unixsocket_works_with_installed_urllib3():
    assert _transport._unixsocket_mismatch() is None


def test_error_bodies_are_capped_and_lose_registry_headers(docker):
    client, engine = docker
    echoed = "bad request; headers were X-Registry-Auth: eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6InNlY3JldCJ9 " + "x" * 3000
    engine.on("GET", "/images/json", Reply(400, {"message": echoed}))
    with pytest.raises(BadRequest) as exc:
        client.list_images()
    message = str(exc.value)
    assert "eyJ1c2VybmFtZSI6" not in message
    assert message.startswith("bad request; headers were X-Registry-Auth: (removed) xxx")
    assert message.endswith("... (2029 more characters not shown)")
    assert len(message) < 1100
