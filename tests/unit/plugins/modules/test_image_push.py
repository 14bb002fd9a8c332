# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_push's decisions and the credentials it sends, with the HTTP layer stubbed.

The real EngineClient and Credentials are used; only the requests session is replaced by
one that answers like Docker 20.10 (API 1.41) did in the integration runs.
"""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient, EngineConfig
from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    EngineAPIError,
    InvalidInput,
    NotFound,
)
from ansible_collections.moby.engine.plugins.modules.image_push import ImagePusher

REPO = "127.0.0.1:5000/team/app"
IMAGE_ID = "sha256:" + "1" * 64
OLD_DIGEST = "sha256:" + "a" * 64
NEW_DIGEST = "sha256:" + "b" * 64
PASSWORD = "s3cret-Passw0rd"


class FakeResponse:
    def __init__(self, status, body=None, lines=None):
        self.status_code = status
        self.reason = "status {0}".format(status)
        self.headers = {}
        self._body = body
        self._lines = lines or []
        self.text = json.dumps(body) if body is not None else ""

    def json(self):
        return self._body

    def iter_content(self, chunk_size=None):
        for line in self._lines:
            yield (json.dumps(line) + "\r\n").encode("utf-8")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


class FakeEngine:
    """Answers inspect, distribution and push requests; records method, path and headers."""

    def __init__(self, repo_digests=(), registry=None, push_lines=None, local=True):
        self.image = {"Id": IMAGE_ID, "RepoTags": [REPO + ":v1"], "RepoDigests": list(repo_digests)} if local else None
        self.registry = registry  # (status, body) of GET /distribution/{name}/json
        self.push_lines = push_lines or push_stream(NEW_DIGEST)
        self.requests = []

    def request(self, method, url, params=None, headers=None, data=None, json=None, stream=False, timeout=None):
        if url.endswith("/_ping"):
            # The client checks, once, that an engine answers before any versioned request.
            return FakeResponse(200, "OK")
        path = url.split("/v1.41", 1)[1]
        self.requests.append((method, path, dict(params or {}), dict(headers or {})))
        if path.startswith("/images/") and path.endswith("/json"):
            return FakeResponse(200, self.image) if self.image else FakeResponse(404, {"message": "No such image"})
        if path.startswith("/distribution/"):
            status, body = self.registry or (404, {"message": "manifest unknown: manifest unknown"})
            return FakeResponse(status, body)
        if path.endswith("/push"):
            self.image["RepoDigests"].append("{0}@{1}".format(REPO, NEW_DIGEST))
            return FakeResponse(200, lines=self.push_lines)
        raise AssertionError("unexpected request {0} {1}".format(method, path))

    def paths(self, method=None):
        return [path for verb, path, _params, _headers in self.requests if method in (None, verb)]

    def auth_headers(self):
        """The decoded X-Registry-Auth of each request that carried one."""
        return [json.loads(base64.urlsafe_b64decode(headers["X-Registry-Auth"]))
                for _verb, _path, _params, headers in self.requests if "X-Registry-Auth" in headers]


def push_stream(digest, layer_status="Pushed"):
    return [
        {"status": "The push refers to repository [{0}]".format(REPO)},
        {"status": "Preparing", "progressDetail": {}, "id": "db16d52f3b98"},
        {"status": "Pushing", "progressDetail": {"current": 512, "total": 26}, "id": "db16d52f3b98"},
        {"status": layer_status, "progressDetail": {}, "id": "db16d52f3b98"},
        {"status": "v1: digest: {0} size: 523".format(digest)},
        {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": digest, "Size": 523}},
    ]


def descriptor(digest):
    return (200, {"Descriptor": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                 "digest": digest, "size": 527},
                  "Platforms": [{"architecture": "amd64", "os": "linux"}]})


def push(engine, check_mode=False, tmp_path=None, **overrides):
    params = {"name": REPO + ":v1", "tag": None, "registry_auth": None,
              "docker_config": str(tmp_path) if tmp_path else "/nonexistent-docker-config"}
    params.update(overrides)
    client = EngineClient(EngineConfig(docker_host="tcp://127.0.0.1:2375", api_version="1.41"))
    client._local.session = engine
    return ImagePusher(client, Credentials.from_params(params), params, check_mode).run()


# -- the idempotency decision --------------------------------------------------

def test_registry_has_this_image_nothing_is_pushed():
    engine = FakeEngine(repo_digests=[REPO + "@" + OLD_DIGEST], registry=descriptor(OLD_DIGEST))
    result = push(engine)
    assert engine.paths("POST") == []
    assert result["changed"] is False
    assert result["pushed"] is False
    assert (result["digest"], result["size"]) == (OLD_DIGEST, 527)
    assert result["layers"] == {"pushed": [], "existed": [], "mounted": []}


def test_digest_of_another_repository_does_not_count():
    engine = FakeEngine(repo_digests=["127.0.0.1:5000/team/other@" + OLD_DIGEST], registry=descriptor(OLD_DIGEST))
    result = push(engine)
    assert engine.paths("POST") == ["/images/127.0.0.1:5000/team/app/push"]
    assert result["changed"] is True


def test_registry_has_other_content_push_reports_new_digest():
    engine = FakeEngine(repo_digests=[REPO + "@" + OLD_DIGEST], registry=descriptor(NEW_DIGEST.replace("b", "c")))
    result = push(engine)
    push_requests = [request for request in engine.requests if request[0] == "POST"]
    assert [(path, params["tag"]) for _verb, path, params, _headers in push_requests] == [
        ("/images/127.0.0.1:5000/team/app/push", "v1")]
    assert result["changed"] is True and result["pushed"] is True
    assert (result["digest"], result["size"]) == (NEW_DIGEST, 523)
    assert result["layers"] == {"pushed": ["db16d52f3b98"], "existed": [], "mounted": []}
    assert result["diff"]["after"]["digest"] == NEW_DIGEST
    assert REPO + "@" + NEW_DIGEST in result["image"]["RepoDigests"]


def test_registry_without_the_tag_is_pushed_and_layer_states_are_summarised():
    engine = FakeEngine(push_lines=push_stream(NEW_DIGEST, "Mounted from team/base"))
    result = push(engine)
    assert result["registry_digest"] is None
    assert result["layers"] == {"pushed": [], "existed": [], "mounted": ["db16d52f3b98"]}


def test_check_mode_predicts_and_pushes_nothing():
    engine = FakeEngine(registry=descriptor(OLD_DIGEST))
    result = push(engine, check_mode=True)
    assert engine.paths("POST") == []
    assert result["changed"] is True and result["pushed"] is False
    assert result["digest"] is None
    assert result["diff"]["before"] == {"reference": REPO + ":v1", "digest": OLD_DIGEST}


def test_tag_option_and_default_tag():
    engine = FakeEngine()
    push(engine, name=REPO, tag="v1")
    assert "/distribution/127.0.0.1:5000/team/app:v1/json" in engine.paths("GET")
    engine = FakeEngine()
    engine.image["RepoTags"] = [REPO + ":latest"]
    push(engine, name=REPO, check_mode=True)
    assert "/distribution/127.0.0.1:5000/team/app:latest/json" in engine.paths("GET")


# -- credentials ---------------------------------------------------------------

def test_no_credentials_still_sends_an_empty_auth_header():
    engine = FakeEngine()
    push(engine)
    assert engine.auth_headers() == [{}, {}]


def test_identitytoken_from_registry_auth_is_passed_through():
    engine = FakeEngine()
    push(engine, registry_auth={"username": None, "password": None, "email": None, "serveraddress": None,
                                "identitytoken": "refresh-token-1", "registrytoken": None})
    assert engine.auth_headers() == [{"identitytoken": "refresh-token-1", "serveraddress": "127.0.0.1:5000"}] * 2


def test_identitytoken_from_config_json_is_passed_through(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {"127.0.0.1:5000": {"identitytoken": "refresh-token-2"}}}))
    engine = FakeEngine()
    push(engine, tmp_path=tmp_path)
    assert engine.auth_headers() == [{"identitytoken": "refresh-token-2", "serveraddress": "127.0.0.1:5000"}] * 2


def test_identitytoken_from_a_credential_helper_is_passed_through(tmp_path, monkeypatch):
    helper = tmp_path / "docker-credential-tokenhelper"
    helper.write_text('#!/bin/sh\nread server\n'
                      'printf \'{"ServerURL":"%s","Username":"<token>","Secret":"refresh-token-3"}\' "$server"\n')
    helper.chmod(0o755)
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"127.0.0.1:5000": "tokenhelper"}}))
    monkeypatch.setenv("PATH", "{0}:/usr/bin:/bin".format(tmp_path))
    engine = FakeEngine()
    push(engine, tmp_path=tmp_path)
    assert engine.auth_headers() == [{"identitytoken": "refresh-token-3", "serveraddress": "127.0.0.1:5000"}] * 2


# -- failures ------------------------------------------------------------------

def test_refused_credentials_fail_before_pushing_with_a_hint_and_no_secret():
    engine = FakeEngine(registry=(401, {"message": "unauthorized: authentication required"}))
    with pytest.raises(AuthenticationFailed) as caught:
        push(engine, registry_auth={"username": "ci", "password": PASSWORD})
    assert engine.paths("POST") == []
    assert "unauthorized: authentication required" in str(caught.value)
    assert "check registry_auth" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_upload_refused_inside_the_stream_gets_the_hint():
    engine = FakeEngine(push_lines=[
        {"status": "The push refers to repository [{0}]".format(REPO)},
        {"errorDetail": {"message": "unauthorized: authentication required"},
         "error": "unauthorized: authentication required"}])
    with pytest.raises(AuthenticationFailed, match="unauthorized.*check registry_auth"):
        push(engine, registry_auth={"username": "ci", "password": PASSWORD})


def test_unreachable_registry_says_so():
    engine = FakeEngine(registry=(500, {"message": 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: '
                                                   'connect: connection refused'}))
    with pytest.raises(EngineAPIError, match="cannot read the digest of .*connection refused.*registry is running"):
        push(engine)
    assert engine.paths("POST") == []


def test_missing_local_image_explains_the_image_tag_recipe():
    engine = FakeEngine(local=False)
    with pytest.raises(NotFound, match="has no image named 127.0.0.1:5000/team/app:v1.*moby.engine.image_tag"):
        push(engine)
    assert [path for path in engine.paths() if path.startswith("/distribution/")] == []


@pytest.mark.parametrize("name, tag, message", [
    (REPO + "@" + OLD_DIGEST, None, "names a digest"),
    (REPO + ":v1", "v2", "carries the tag 'v1' but tag is 'v2'"),
    (REPO, "-bad", "invalid tag '-bad'"),
    ("127.0.0.1:5000/Team/app", None, "must be lower case"),
])
def test_bad_names_fail_before_any_request(name, tag, message):
    engine = FakeEngine()
    with pytest.raises(InvalidInput, match=message):
        push(engine, name=name, tag=tag)
    assert engine.requests == []
