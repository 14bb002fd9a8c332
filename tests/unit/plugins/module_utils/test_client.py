# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""EngineClient with the HTTP layer replaced by a fake session answering like a real engine."""

from __future__ import annotations

import io
import json
import threading

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from ansible_collections.moby.engine.plugins.module_utils import _client
from ansible_collections.moby.engine.plugins.module_utils._client import (
    MAX_API_VERSION,
    MIN_API_VERSION,
    EngineClient,
    EngineConfig,
    _query_value,
    version_tuple,
)
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
    StreamError,
    UnsupportedApiVersion,
)

TCP_HOST = "tcp://127.0.0.1:2375"
BASE = "http://127.0.0.1:2375"
IMAGE_ID = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741"
DIGEST = "sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb"


class FakeResponse:
    """Shaped like requests.Response as far as the client uses it."""

    def __init__(self, status_code=200, body=None, headers=None, chunks=None, reason=None, broken=None):
        self.status_code = status_code
        self.headers = CaseInsensitiveDict(headers or {})
        if isinstance(body, (dict, list)):
            self.text = json.dumps(body)
            self.headers.setdefault("Content-Type", "application/json")
        else:
            self.text = body or ""
        self.reason = reason or {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found",
                                 409: "Conflict", 500: "Internal Server Error"}.get(status_code, "")
        self._chunks = chunks
        self._broken = broken
        self.closed = False
        self.chunk_sizes = []

    def json(self):
        return json.loads(self.text)  # raises ValueError on a non-JSON body, like requests does

    def iter_content(self, chunk_size=1):
        self.chunk_sizes.append(chunk_size)
        yield from self._chunks or [self.text.encode("utf-8")]
        if self._broken is not None:
            raise self._broken

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def negotiate(client):
    """Trigger API version negotiation."""
    return client.api_version


def ping(version="1.41"):
    headers = {"Content-Type": "text/plain; charset=utf-8", "Docker-Experimental": "false",
               "Ostype": "linux", "Server": "Docker/20.10.24 (linux)", "Cache-Control": "no-cache, no-store"}
    if version:
        headers["Api-Version"] = version
    return FakeResponse(200, "OK", headers)


def error(status, message):
    return FakeResponse(status, {"message": message})


class FakeSession:
    """Answers requests from a route table {(METHOD, path): response | exception | callable}."""

    def __init__(self, base_url, routes):
        self.base_url = base_url
        self.routes = dict(routes)
        self.calls = []
        self.closed = False

    def request(self, method, url, params=None, headers=None, data=None, json=None, stream=False, timeout=None):
        assert url.startswith(self.base_url), url
        path = url[len(self.base_url):]
        prepared = requests.Request(method, "http://engine" + path, params=params).prepare()
        call = {"method": method, "path": path, "params": params, "headers": headers, "data": data,
                "json": json, "stream": stream, "timeout": timeout, "query_url": prepared.url}
        self.calls.append(call)
        answer = self.routes.get((method, path))
        if answer is None:
            return error(404, "page not found")
        if callable(answer) and not isinstance(answer, FakeResponse):
            answer = answer(call)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def paths(self):
        return [(call["method"], call["path"]) for call in self.calls]

    def close(self):
        self.closed = True


@pytest.fixture
def engine(monkeypatch):
    """make(routes, **config) -> (client, session) with the session answering from routes."""

    def make(routes, **config):
        config.setdefault("docker_host", TCP_HOST)
        engine_config = EngineConfig(**config)
        session = FakeSession(engine_config.base_url, routes)
        monkeypatch.setattr(EngineClient, "_new_session", lambda self: session)
        return EngineClient(engine_config), session

    return make


# -- API version negotiation -------------------------------------------------

def test_engine_141_uses_141(engine):
    client, session = engine({
        ("GET", "/_ping"): ping("1.41"),
        ("GET", "/v1.41/images/busybox:1.36/json"): FakeResponse(200, {"Id": IMAGE_ID}),
    })
    assert client.inspect_image("busybox:1.36") == {"Id": IMAGE_ID}
    assert client.inspect_image("busybox:1.36") == {"Id": IMAGE_ID}
    assert client.api_version == "1.41"
    assert client.engine_api_version == "1.41"
    # /_ping is unversioned and asked once per client.
    assert session.paths() == [("GET", "/_ping"), ("GET", "/v1.41/images/busybox:1.36/json"),
                               ("GET", "/v1.41/images/busybox:1.36/json")]


def test_newer_engine_capped_at_max(engine):
    client, session = engine({("GET", "/_ping"): ping("1.45"),
                              ("POST", "/v1.43/images/" + IMAGE_ID + "/tag"): FakeResponse(201, "")})
    client.tag_image(IMAGE_ID, "registry.example.com/team/app", "stable")
    assert MAX_API_VERSION == "1.43"
    assert client.api_version == "1.43"
    assert client.engine_api_version == "1.45"
    assert session.calls[-1]["params"] == {"repo": "registry.example.com/team/app", "tag": "stable"}


def test_version_compared_numerically(engine):
    # "1.100" sorts before "1.43" as text; as a version it is newer.
    client, _session = engine({("GET", "/_ping"): ping("1.100")})
    assert client.api_version == "1.43"
    assert version_tuple("1.9") < version_tuple("1.41") < version_tuple("1.100")


def test_engine_142_used_as_is(engine):
    client, _session = engine({("GET", "/_ping"): ping("1.42")})
    assert client.api_version == "1.42"


def test_old_engine_rejected(engine):
    client, session = engine({("GET", "/_ping"): ping("1.40")})
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.inspect_image("busybox")
    assert MIN_API_VERSION == "1.41"
    assert str(exc.value) == ("the engine at tcp://127.0.0.1:2375 speaks API 1.40; moby.engine needs 1.41 or "
                              "newer (Docker 20.10+). Upgrade the engine")
    assert session.paths() == [("GET", "/_ping")]


def test_missing_api_version_header_falls_back_to_version(engine):
    client, session = engine({
        ("GET", "/_ping"): ping(None),
        ("GET", "/version"): FakeResponse(200, {"ApiVersion": "1.42", "MinAPIVersion": "1.12",
                                                "Version": "23.0.6", "Os": "linux", "Arch": "amd64"}),
    })
    assert client.api_version == "1.42"
    assert session.paths() == [("GET", "/_ping"), ("GET", "/version")]


def test_no_version_anywhere(engine):
    client, _session = engine({("GET", "/_ping"): ping(None), ("GET", "/version"): FakeResponse(200, {})})
    with pytest.raises(UnsupportedApiVersion) as exc:
        negotiate(client)
    assert str(exc.value) == "the engine at tcp://127.0.0.1:2375 did not report its API version"


def test_explicit_api_version_is_used_as_given(engine):
    client, session = engine({("GET", "/_ping"): ping("1.43"),
                              ("GET", "/v1.42/images/busybox/json"): FakeResponse(200, {"Id": IMAGE_ID})},
                             api_version="1.42")
    assert client.inspect_image("busybox") == {"Id": IMAGE_ID}
    assert session.paths() == [("GET", "/_ping"), ("GET", "/v1.42/images/busybox/json")]


def test_explicit_api_version_still_checks_that_an_engine_answers(engine):
    client, _session = engine({("GET", "/_ping"): error(404, "page not found")}, api_version="1.42")
    with pytest.raises(EngineUnreachable) as exc:
        client.inspect_image("busybox")
    assert "is not a Docker engine (GET /_ping answered 404: page not found)" in str(exc.value)


def test_client_version_too_new(engine):
    client, _session = engine({("GET", "/_ping"): ping(), ("GET", "/v1.99/images/busybox/json"): error(
        400, "client version 1.99 is too new. Maximum supported API version is 1.43")}, api_version="1.99")
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.inspect_image("busybox")
    assert str(exc.value) == ("the engine refused API version 1.99: client version 1.99 is too new. "
                              "Maximum supported API version is 1.43")


def test_require_api(engine):
    client, _session = engine({("GET", "/_ping"): ping()}, api_version="1.41")
    client.require_api("1.41", "platform")
    with pytest.raises(UnsupportedApiVersion) as exc:
        client.require_api("1.42", "platform")
    assert str(exc.value) == ("platform needs engine API 1.42 or newer; the engine at tcp://127.0.0.1:2375 is "
                              "Docker 20.10.24 (API 1.41). Leave platform unset on this engine, or upgrade it")


# -- errors ------------------------------------------------------------------

@pytest.mark.parametrize("status, error_class, message", [
    (400, BadRequest, "invalid tag format"),
    (401, AuthenticationFailed, "unauthorized"),
    (404, NotFound, "No such image: busybox:nope"),
    (409, Conflict, 'conflict: unable to remove repository reference "busybox" (must force) - container '
                    "0123456789ab is using its referenced image 3f57d9401f8d"),
    (500, ServerError, "driver failed"),
])
def test_status_maps_to_exception(engine, status, error_class, message):
    client, _session = engine({("GET", "/_ping"): ping(),
                               ("DELETE", "/v1.41/images/busybox"): error(status, message)})
    with pytest.raises(error_class) as exc:
        client.remove_image("busybox")
    assert exc.value.message == message
    assert str(exc.value) == message
    assert exc.value.status == status


def test_unmapped_status_is_engine_api_error(engine):
    client, _session = engine({("GET", "/_ping"): ping(),
                               ("DELETE", "/v1.41/images/busybox"): error(403, "forbidden by plugin")})
    with pytest.raises(EngineAPIError) as exc:
        client.remove_image("busybox")
    assert not isinstance(exc.value, (BadRequest, AuthenticationFailed, NotFound, Conflict, ServerError))
    assert exc.value.status == 403
    assert exc.value.message == "forbidden by plugin"


def test_error_body_not_json(engine):
    client, _session = engine({("GET", "/_ping"): ping(),
                               ("GET", "/v1.41/images/json"): FakeResponse(
                                   502, "bad gateway\n", reason="Bad Gateway"),
                               ("GET", "/v1.41/system/df"): FakeResponse(500, "", reason="Internal Server Error")})
    with pytest.raises(EngineAPIError) as exc:
        client.list_images()
    assert exc.value.message == "bad gateway"
    with pytest.raises(ServerError) as exc:
        client.system_df()
    assert exc.value.message == "Internal Server Error"


def test_error_body_json_but_not_an_object(engine):
    client, _session = engine({("GET", "/_ping"): ping(),
                               ("GET", "/v1.41/images/json"): FakeResponse(
                                   502, '["proxy says no"]', reason="Bad Gateway")})
    with pytest.raises(EngineAPIError) as exc:
        client.list_images()
    assert exc.value.message == '["proxy says no"]'
    assert exc.value.status == 502


def test_inspect_image_404_is_none(engine):
    client, _session = engine({("GET", "/_ping"): ping(),
                               ("GET", "/v1.41/images/busybox:nope/json"): error(404, "No such image: busybox:nope")})
    assert client.inspect_image("busybox:nope") is None


def test_inspect_image_other_errors_raise(engine):
    client, _session = engine({("GET", "/_ping"): ping(),
                               ("GET", "/v1.41/images/busybox/json"): error(500, "boom")})
    with pytest.raises(ServerError):
        client.inspect_image("busybox")


def test_http_request_to_https_server(engine):
    body = "Client sent an HTTP request to an HTTPS server.\n"
    client, _session = engine({("GET", "/_ping"): FakeResponse(400, body, {"Content-Type": "text/plain"})},
                              docker_host="tcp://engine.example.com:2376")
    with pytest.raises(EngineUnreachable) as exc:
        client.inspect_image("busybox")
    assert str(exc.value) == ("the engine at tcp://engine.example.com:2376 expects TLS; set tls: true "
                              "(and the certificates)")


def test_connection_refused(engine):
    refused = requests.exceptions.ConnectionError(
        "HTTPConnectionPool(host='127.0.0.1', port=2375): Max retries exceeded with url: /_ping (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f3a>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))")
    client, _session = engine({("GET", "/_ping"): refused})
    with pytest.raises(EngineUnreachable) as exc:
        client.inspect_image("busybox")
    assert str(exc.value) == ("cannot connect to the engine at tcp://127.0.0.1:2375: [Errno 111] Connection "
                              "refused. Check that dockerd is running and that docker_host (or DOCKER_HOST) "
                              "points at it")


def test_missing_socket(engine):
    client, _session = engine({("GET", "/_ping"): requests.exceptions.ConnectionError(
        "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))")},
        docker_host="unix:///run/nothing.sock")
    with pytest.raises(EngineUnreachable) as exc:
        negotiate(client)
    assert "unix:///run/nothing.sock" in str(exc.value)
    assert "No such file or directory" in str(exc.value)


def test_timeout(engine):
    client, _session = engine({("GET", "/_ping"): requests.exceptions.ReadTimeout("read timed out")}, timeout=5)
    with pytest.raises(EngineTimeout) as exc:
        negotiate(client)
    assert isinstance(exc.value, EngineUnreachable)
    assert str(exc.value) == "the engine at tcp://127.0.0.1:2375 did not answer within 5 s (timeout)"


def test_ssl_error(engine):
    client, _session = engine({("GET", "/_ping"): requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='engine', port=2376): Max retries exceeded (Caused by SSLError("
        "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self signed "
        "certificate (_ssl.c:1006)')))")}, docker_host="tcp://engine:2376", tls=True)
    with pytest.raises(EngineUnreachable) as exc:
        negotiate(client)
    assert str(exc.value).startswith("TLS connection to the engine at tcp://engine:2376 failed: "
                                     "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert "ca_path" in str(exc.value)


# -- request shape -----------------------------------------------------------

def test_every_path_is_versioned(engine):
    routes = {("GET", "/_ping"): ping()}
    for method, path, answer in [
        ("GET", "/images/json", []),
        ("GET", "/images/busybox/history", []),
        ("GET", "/distribution/busybox:1.36/json", {"Descriptor": {"digest": DIGEST}}),
        ("DELETE", "/images/busybox:1.36", [{"Untagged": "busybox:1.36"}]),
        ("POST", "/images/prune", {"ImagesDeleted": None, "SpaceReclaimed": 0}),
        ("GET", "/system/df", {}),
        ("GET", "/images/search", []),
    ]:
        routes[(method, "/v1.41" + path)] = FakeResponse(200, answer)
    client, session = engine(routes)
    client.list_images()
    client.image_history("busybox")
    assert client.distribution_inspect("busybox:1.36", "e30=") == {"Descriptor": {"digest": DIGEST}}
    assert client.remove_image("busybox:1.36") == [{"Untagged": "busybox:1.36"}]
    client.prune_images()
    client.system_df()
    client.search_images("busybox")
    assert [path for _method, path in session.paths()[1:]] == [
        "/v1.41/images/json", "/v1.41/images/busybox/history", "/v1.41/distribution/busybox:1.36/json",
        "/v1.41/images/busybox:1.36", "/v1.41/images/prune", "/v1.41/system/df", "/v1.41/images/search"]


def test_reference_path_quoting(engine):
    name = "registry.example.com:5000/team/app@" + DIGEST
    client, session = engine({("GET", "/_ping"): ping(),
                              ("GET", "/v1.41/images/" + name + "/json"): FakeResponse(200, {"Id": IMAGE_ID}),
                              ("GET", "/v1.41/images/a%20b%23c/json"): error(404, "nope")})
    assert client.inspect_image(name) == {"Id": IMAGE_ID}
    assert client.inspect_image("a b#c") is None


def test_unix_socket_base_url(engine):
    client, session = engine({("GET", "/_ping"): ping()}, docker_host="unix:///var/run/docker.sock")
    assert client.config.base_url == "http+unix://%2Fvar%2Frun%2Fdocker.sock"
    assert client.api_version == "1.41"
    assert session.paths() == [("GET", "/_ping")]


def test_query_booleans_are_1_and_0(engine):
    client, session = engine({("GET", "/_ping"): ping(), ("GET", "/v1.41/images/json"): FakeResponse(200, [])})
    client.list_images(filters='{"dangling":["true"]}', all_images=True)
    call = session.calls[-1]
    assert call["params"] == {"filters": '{"dangling":["true"]}', "all": "1", "digests": "0", "shared-size": "0"}
    assert call["query_url"] == ("http://engine/v1.41/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D"
                                 "&all=1&digests=0&shared-size=0")


def test_none_params_are_left_out(engine):
    client, session = engine({("GET", "/_ping"): ping(),
                              ("POST", "/v1.41/images/create"): FakeResponse(200, chunks=[b""])})
    client.pull_image("busybox", None, "e30=")
    assert session.calls[-1]["params"] == {"fromImage": "busybox"}


def test_list_of_strings_is_repeated(engine):
    client, session = engine({("GET", "/_ping"): ping(),
                              ("GET", "/v1.41/images/get"): FakeResponse(200, chunks=[b"tar", b"data"])})
    destination = io.BytesIO()
    assert client.export_images(["busybox:1.36", "alpine:3"], destination) == 7
    assert destination.getvalue() == b"tardata"
    call = session.calls[-1]
    assert call["params"] == {"names": ["busybox:1.36", "alpine:3"]}
    assert call["query_url"] == "http://engine/v1.41/images/get?names=busybox%3A1.36&names=alpine%3A3"
    assert call["stream"] is True


def test_export_single_image_uses_image_path(engine):
    client, session = engine({("GET", "/_ping"): ping(),
                              ("GET", "/v1.41/images/busybox:1.36/get"): FakeResponse(200, chunks=[b"x"])})
    assert client.export_images(["busybox:1.36"], io.BytesIO()) == 1
    assert session.calls[-1]["params"] == {}


def test_query_value():
    assert _query_value(True) == "1"
    assert _query_value(False) == "0"
    assert _query_value(3) == 3
    assert _query_value("x") == "x"
    assert _query_value(["a", "b"]) == ["a", "b"]
    assert _query_value({"a": ["b"]}) == '{"a": ["b"]}'
    assert _query_value([1, 2]) == "[1, 2]"
    assert _query_value(("a",)) == '["a"]'


def test_timeout_passed_to_session(engine):
    client, session = engine({("GET", "/_ping"): ping()}, timeout=17)
    negotiate(client)
    assert session.calls[0]["timeout"] == (17, 17)
    assert session.calls[0]["stream"] is False


def test_remove_image_params(engine):
    client, session = engine({("GET", "/_ping"): ping(), ("DELETE", "/v1.41/images/app:1"): FakeResponse(
        200, [{"Untagged": "app:1"}, {"Deleted": IMAGE_ID}])})
    assert client.remove_image("app:1", force=True, noprune=False) == [{"Untagged": "app:1"}, {"Deleted": IMAGE_ID}]
    assert session.calls[-1]["params"] == {"force": "1", "noprune": "0"}
    assert session.calls[-1]["query_url"].endswith("?force=1&noprune=0")


def test_distribution_inspect_sends_auth(engine):
    client, session = engine({("GET", "/_ping"): ping(),
                              ("GET", "/v1.41/distribution/busybox:1.36/json"): FakeResponse(200, {})})
    client.distribution_inspect("busybox:1.36", "eyJ1c2VybmFtZSI6ImEifQ==")
    assert session.calls[-1]["headers"] == {"X-Registry-Auth": "eyJ1c2VybmFtZSI6ImEifQ=="}


# -- streams -----------------------------------------------------------------

PULL_BODY = (b'{"status":"Pulling from library/busybox","id":"1.36"}\r\n'
             b'{"status":"Pulling fs layer","progressDetail":{},"id":"a1b2c3d4e5f6"}\r\n'
             b'{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[=> ]","id":"a1b2c3d4e5f6"}\r\n'
             b'{"status":"Pull complete","progressDetail":{},"id":"a1b2c3d4e5f6"}\r\n'
             b'{"status":"Digest: ' + DIGEST.encode() + b'"}\r\n'
             b'{"status":"Status: Downloaded newer image for busybox:1.36"}\r\n')


def test_pull_image_stream(engine):
    response = FakeResponse(200, headers={"Content-Type": "application/json"},
                            chunks=[PULL_BODY[i:i + 10] for i in range(0, len(PULL_BODY), 10)])
    client, session = engine({("GET", "/_ping"): ping(), ("POST", "/v1.41/images/create"): response})
    summary = client.pull_image("busybox", "1.36", "e30=", platform="linux/arm64")
    call = session.calls[-1]
    assert call["params"] == {"fromImage": "busybox", "tag": "1.36", "platform": "linux/arm64"}
    assert call["headers"] == {"X-Registry-Auth": "e30="}
    assert call["stream"] is True
    assert response.chunk_sizes == [64 * 1024]
    assert response.closed is True
    assert summary.layers == {"a1b2c3d4e5f6": "Pull complete"}
    assert summary.messages[-1] == "Status: Downloaded newer image for busybox:1.36"


def test_pull_image_stream_error(engine):
    body = (b'{"status":"Pulling from library/busybox","id":"nope"}\r\n'
            b'{"errorDetail":{"message":"manifest for busybox:nope not found: manifest unknown: manifest '
            b'unknown"},"error":"manifest for busybox:nope not found: manifest unknown: manifest unknown"}\r\n')
    response = FakeResponse(200, chunks=[body])
    client, _session = engine({("GET", "/_ping"): ping(), ("POST", "/v1.41/images/create"): response})
    with pytest.raises(StreamError) as exc:
        client.pull_image("busybox", "nope", "e30=")
    assert str(exc.value) == "manifest for busybox:nope not found: manifest unknown: manifest unknown"
    assert response.closed is True


@pytest.mark.parametrize("status, answer", [
    (200, FakeResponse(200, chunks=[
        b'{"status":"Pulling from team/app","id":"1"}\r\n'
        b'{"errorDetail":{"message":"pull access denied for team/app, repository does not exist or may '
        b'require \'docker login\'"},"error":"pull access denied for team/app, repository does not exist '
        b'or may require \'docker login\'"}\r\n'])),
    (404, error(404, "pull access denied for team/app, repository does not exist or may require 'docker login'")),
])
def test_pull_auth_failure_gets_credentials_hint(engine, status, answer):
    client, _session = engine({("GET", "/_ping"): ping(), ("POST", "/v1.41/images/create"): answer})
    with pytest.raises(AuthenticationFailed) as exc:
        client.pull_image("team/app", "1", "e30=")
    assert str(exc.value) == (
        "pull access denied for team/app, repository does not exist or may require 'docker login' (the "
        "registry refused the credentials: check registry_auth, or the entry for this registry in "
        "docker_config's config.json and its credential helper)")


def test_distribution_inspect_auth_failure(engine):
    client, _session = engine({("GET", "/_ping"): ping(), ("GET", "/v1.41/distribution/team/app:1/json"): error(
        401, "Head \"https://registry.example.com/v2/team/app/manifests/1\": no basic auth credentials")})
    with pytest.raises(AuthenticationFailed) as exc:
        client.distribution_inspect("team/app:1", "e30=")
    assert "no basic auth credentials (the registry refused the credentials" in str(exc.value)


def test_distribution_inspect_other_errors_unchanged(engine):
    client, _session = engine({("GET", "/_ping"): ping(), ("GET", "/v1.41/distribution/team/app:1/json"): error(
        500, "registry unavailable")})
    with pytest.raises(ServerError) as exc:
        client.distribution_inspect("team/app:1", "e30=")
    assert str(exc.value) == "registry unavailable"


def test_stream_broken_off(engine):
    response = FakeResponse(200, chunks=[b'{"status":"Pulling from library/busybox","id":"1"}\r\n'],
                            broken=requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"))
    client, _session = engine({("GET", "/_ping"): ping(), ("POST", "/v1.41/images/create"): response})
    with pytest.raises(EngineUnreachable) as exc:
        client.pull_image("busybox", "1", "e30=")
    assert str(exc.value).startswith("the connection to the engine at tcp://127.0.0.1:2375 broke off: ")


def test_stream_truncated(engine):
    response = FakeResponse(200, chunks=[b'{"status":"Pulling from library/busybox","id":"1"}\r\n{"stat'])
    client, _session = engine({("GET", "/_ping"): ping(), ("POST", "/v1.41/images/create"): response})
    with pytest.raises(StreamError):
        client.pull_image("busybox", "1", "e30=")


def test_build_sends_registry_config(engine):
    response = FakeResponse(200, chunks=[b'{"stream":"Step 1/1 : FROM busybox\\n"}\r\n{"aux":{"ID":"'
                                         + IMAGE_ID.encode() + b'"}}\r\n'])
    client, session = engine({("GET", "/_ping"): ping(), ("POST", "/v1.41/build"): response})
    summary = client.build_image(b"context", {"t": "app:1", "rm": True}, registry_config="e30=")
    call = session.calls[-1]
    assert call["headers"] == {"Content-Type": "application/x-tar", "X-Registry-Config": "e30="}
    assert call["params"] == {"t": "app:1", "rm": "1"}
    assert call["data"] == b"context"
    assert summary.aux == [{"ID": IMAGE_ID}]


# -- sessions ----------------------------------------------------------------

def test_session_per_thread(monkeypatch):
    created = []

    def new_session(self):
        session = FakeSession(self.config.base_url, {("GET", "/_ping"): ping()})
        created.append(session)
        return session

    monkeypatch.setattr(EngineClient, "_new_session", new_session)
    client = EngineClient(EngineConfig(docker_host=TCP_HOST))
    main_session = client.session
    assert client.session is main_session
    seen = []
    thread = threading.Thread(target=lambda: seen.append(client.session))
    thread.start()
    thread.join()
    assert seen[0] is not main_session
    assert len(created) == 2
    client.close()
    assert main_session.closed is True


def test_real_tls_session(tmp_path):
    client = EngineClient(EngineConfig(docker_host="tcp://engine:2376", tls=True, ca_path="/certs/ca.pem",
                                       client_cert="/certs/cert.pem", client_key="/certs/key.pem",
                                       tls_hostname="docker.example.com"))
    session = client._new_session()
    assert session.verify == "/certs/ca.pem"
    assert session.cert == ("/certs/cert.pem", "/certs/key.pem")
    assert isinstance(session.get_adapter("https://engine:2376"), _client._TLSAdapter)
    assert session.get_adapter("https://engine:2376")._tls_hostname == "docker.example.com"


def test_real_tls_session_without_verification():
    client = EngineClient(EngineConfig(docker_host="tcp://engine:2376", tls=True, validate_certs=False,
                                       ca_path="/certs/ca.pem"))
    assert client._new_session().verify is False
    verified = EngineClient(EngineConfig(docker_host="tcp://engine:2376", tls=True))._new_session()
    assert verified.verify is True
    assert verified.cert is None


def test_real_unix_session():
    unixsocket = pytest.importorskip("requests_unixsocket")
    client = EngineClient(EngineConfig(docker_host="unix:///var/run/docker.sock"))
    assert isinstance(client._new_session(), unixsocket.Session)


# -- EngineConfig ------------------------------------------------------------

@pytest.mark.parametrize("docker_host", ["ftp://host", "ssh://user@host", "npipe:////./pipe/docker_engine",
                                         "/var/run/docker.sock", "host:2375"])
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
])
def test_validate_accepts(config):
    EngineConfig(**config).validate()


def test_client_validates_config():
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
    monkeypatch.setattr(_client, "requests", None)
    monkeypatch.setattr(_client, "REQUESTS_IMPORT_ERROR", "Traceback: No module named 'requests'")
    with pytest.raises(MissingLibrary) as exc:
        EngineClient(EngineConfig())
    assert exc.value.library == "requests"
    assert str(exc.value).startswith("Failed to import the required Python library (requests)")
    assert exc.value.traceback_text == "Traceback: No module named 'requests'"


def test_missing_requests_unixsocket_only_for_unix(monkeypatch):
    monkeypatch.setattr(_client, "requests_unixsocket", None)
    with pytest.raises(MissingLibrary) as exc:
        EngineClient(EngineConfig(docker_host="unix:///var/run/docker.sock"))
    assert exc.value.library == "requests-unixsocket"
    EngineClient(EngineConfig(docker_host=TCP_HOST))
