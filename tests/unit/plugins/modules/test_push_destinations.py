# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_push's promotion to several registries: decisions per destination, credentials per registry, the final check.

The real EngineClient, Credentials and ImagePusher run; only the requests session is replaced by a fake engine
that keeps local names and, per registry, the manifest digest each tag holds.
"""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import unquote

import pytest

from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient, EngineConfig
from ansible_collections.moby.engine.plugins.module_utils._common import Task
from ansible_collections.moby.engine.plugins.module_utils._errors import EngineAPIError, InvalidInput, MobyEngineError
from ansible_collections.moby.engine.plugins.module_utils._references import parse_reference
from ansible_collections.moby.engine.plugins.module_utils._retry import RetryPolicy
from ansible_collections.moby.engine.plugins.modules.image_push import (
    ImagePusher,
    decide_tag,
    destination_credentials,
    destination_references,
    disagreements,
)

SOURCE_ID = "sha256:" + "1" * 64
OTHER_ID = "sha256:" + "2" * 64
DIGEST = "sha256:" + "d" * 64
OLD = "sha256:" + "0" * 64
A = "127.0.0.1:5000/team/app"
B = "127.0.0.1:5001/prod/app"


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
    """Local images by name, registries' digests by tag; records every request (thread-safe)."""

    def __init__(self, registry=None, fail_distribution=0):
        self.images = {SOURCE_ID: {"Id": SOURCE_ID, "RepoTags": ["app:1"], "RepoDigests": []}}
        self.names = {"app:1": SOURCE_ID}
        self.registry = dict(registry or {})  # "repo:tag" -> digest held by its registry
        self.pushed_digest = DIGEST
        self.fail_distribution = fail_distribution
        self.requests = []
        self.lock = threading.Lock()

    def request(self, method, url, params=None, headers=None, data=None, json=None, stream=False, timeout=None,
                allow_redirects=None):
        if url.endswith("/_ping"):
            return FakeResponse(200, "OK")
        path = unquote(url.split("/v1.41", 1)[1])
        with self.lock:
            self.requests.append((method, path, dict(params or {}), dict(headers or {})))
            return self.answer(method, path, params or {})

    def answer(self, method, path, params):
        if method == "GET" and path.startswith("/images/") and path.endswith("/json"):
            name = path[len("/images/"):-len("/json")]
            image_id = name if name in self.images else self.names.get(name)
            return FakeResponse(200, self.images[image_id]) if image_id else FakeResponse(404, {"message": "No such image"})
        if method == "POST" and path.endswith("/tag"):
            name = "{0}:{1}".format(params["repo"], params["tag"])
            self.names[name] = SOURCE_ID
            self.images[SOURCE_ID]["RepoTags"].append(name)
            return FakeResponse(201)
        if path.startswith("/distribution/"):
            if self.fail_distribution:
                self.fail_distribution -= 1
                return FakeResponse(500, {"message": "received unexpected HTTP status: 503 Service Unavailable"})
            name = path[len("/distribution/"):-len("/json")]
            if name not in self.registry:
                return FakeResponse(404, {"message": "manifest unknown: manifest unknown"})
            return FakeResponse(200, {"Descriptor": {"digest": self.registry[name], "size": 527}})
        if method == "POST" and path.endswith("/push"):
            repo = path[len("/images/"):-len("/push")]
            self.registry["{0}:{1}".format(repo, params["tag"])] = self.pushed_digest
            self.images[SOURCE_ID]["RepoDigests"].append("{0}@{1}".format(repo, self.pushed_digest))
            return FakeResponse(200, lines=[
                {"status": "Preparing", "id": "db16d52f3b98"}, {"status": "Pushed", "id": "db16d52f3b98"},
                {"aux": {"Tag": params["tag"], "Digest": self.pushed_digest, "Size": 523}}])
        raise AssertionError("unexpected request {0} {1}".format(method, path))

    def paths(self, method):
        return [path for verb, path, _params, _headers in self.requests if verb == method]

    def auth_users(self, suffix):
        """Registry user each request ending in ``suffix`` carried, by path."""
        return {path: json.loads(base64.urlsafe_b64decode(headers["X-Registry-Auth"])).get("username")
                for _verb, path, _params, headers in self.requests
                if path.endswith(suffix) and "X-Registry-Auth" in headers}


AUTHS = {"127.0.0.1:5000": {"username": "alice", "password": "a-secret"},
         "127.0.0.1:5001": {"username": "bob", "password": "b-secret"}}


def promote(engine, check_mode=False, sleep=None, **overrides):
    params = {"name": "app:1", "tag": None, "all_tags": False, "destinations": [A + ":1", B],
              "parallel": 4, "retries": 0, "retry_delay": 1.0, "registry_auth": None, "registry_auths": AUTHS,
              "docker_config": "/nonexistent-docker-config"}
    params.update(overrides)
    client = EngineClient(EngineConfig(docker_host="tcp://127.0.0.1:2375", api_version="1.41"))
    # Every thread (destinations are pushed side by side) gets its own session: all of them are the fake engine.
    client.transport._new_session = lambda: engine
    task = Task(client, params, check_mode)
    pusher = ImagePusher(task)
    if sleep is not None:
        pusher.policy = RetryPolicy(params["retries"], params["retry_delay"], sleep)
    return pusher.run(), task


# -- pure decisions ----------------------------------------------------------------


def test_decide_tag():
    assert decide_tag(None, SOURCE_ID) == (True, "the local name is missing")
    assert decide_tag(OTHER_ID, SOURCE_ID) == (True, "the local name points at another image")
    assert decide_tag(SOURCE_ID, SOURCE_ID) == (False, "the local name already points at the image")


def test_destination_references():
    refs = destination_references([A + ":stable", B], parse_reference("app:1.2"))
    assert [ref.familiar_tagged() for ref in refs] == [A + ":stable", B + ":1.2"]
    with pytest.raises(InvalidInput, match="names a digest"):
        destination_references([A + "@" + DIGEST], parse_reference("app:1"))
    with pytest.raises(InvalidInput, match="is given twice"):
        destination_references([B + ":1", B], parse_reference("app:1"))


def test_disagreements():
    assert disagreements({"a": DIGEST, "b": DIGEST}, {"a": DIGEST, "b": DIGEST}) == []
    assert disagreements({"a": DIGEST, "b": DIGEST}, {"a": DIGEST, "b": OLD}) == [
        "b: the registry holds {0}, but the push reported {1}".format(OLD, DIGEST)]
    assert disagreements({"a": None, "b": None}, {"a": DIGEST, "b": OLD}) == [
        "the registries hold different manifests: a has {0}, b has {1}".format(DIGEST, OLD)]


def test_single_registry_auth_goes_only_to_its_registry():
    refs = destination_references([A + ":1", B], parse_reference("app:1"))
    with pytest.raises(InvalidInput, match="no serveraddress, but this task uses several registries"):
        destination_credentials({"registry_auth": {"username": "x", "password": "y"}, "registry_auths": None,
                                 "docker_config": "/nonexistent"}, refs)
    creds = destination_credentials({"registry_auth": {"username": "x", "password": "y",
                                                       "serveraddress": "127.0.0.1:5001"},
                                     "registry_auths": None, "docker_config": "/nonexistent"}, refs)
    assert creds.for_registry("127.0.0.1:5001")["username"] == "x"
    assert creds.for_registry("127.0.0.1:5000") is None


# -- promotion -----------------------------------------------------------------------


def test_promotes_to_two_registries_each_with_its_own_credentials():
    engine = FakeEngine()
    result, _task = promote(engine)
    assert [entry["name"] for entry in result["destinations"]] == [A + ":1", B + ":1"]
    assert all(entry["changed"] and entry["tagged"] and entry["pushed"] for entry in result["destinations"])
    assert sorted(engine.paths("POST")) == sorted([
        "/images/{0}/tag".format(SOURCE_ID), "/images/{0}/tag".format(SOURCE_ID),
        "/images/{0}/push".format(A), "/images/{0}/push".format(B)])
    assert engine.auth_users("/push") == {"/images/{0}/push".format(A): "alice", "/images/{0}/push".format(B): "bob"}
    assert engine.auth_users("/json") == {"/distribution/{0}:1/json".format(A): "alice",
                                          "/distribution/{0}:1/json".format(B): "bob"}
    assert result["changed"] is True and result["digest"] == DIGEST
    assert [entry["verified_digest"] for entry in result["destinations"]] == [DIGEST, DIGEST]
    assert result["diff"]["before"][0] == {"reference": A + ":1", "digest": None, "local_image": None}
    assert result["diff"]["after"][1] == {"reference": B + ":1", "digest": DIGEST, "local_image": SOURCE_ID}


def test_current_destination_moves_no_bytes():
    engine = FakeEngine(registry={A + ":1": DIGEST})
    engine.names[A + ":1"] = SOURCE_ID
    engine.images[SOURCE_ID]["RepoDigests"].append(A + "@" + DIGEST)
    result, _task = promote(engine)
    first, second = result["destinations"]
    assert (first["changed"], first["tagged"], first["pushed"]) == (False, False, False)
    assert first["reason"] == "the local name already points at the image; the registry holds this image under the tag"
    assert (second["changed"], second["pushed"]) == (True, True)
    assert engine.paths("POST") == ["/images/{0}/tag".format(SOURCE_ID), "/images/{0}/push".format(B)]


def test_everything_current_is_no_change():
    engine = FakeEngine(registry={A + ":1": DIGEST, B + ":1": DIGEST})
    for repo in (A, B):
        engine.names[repo + ":1"] = SOURCE_ID
        engine.images[SOURCE_ID]["RepoDigests"].append(repo + "@" + DIGEST)
    result, _task = promote(engine)
    assert result["changed"] is False and engine.paths("POST") == []
    assert result["reason"] == "every destination's registry holds the image under its tag"


def test_local_name_elsewhere_is_moved_even_when_the_registry_is_current():
    engine = FakeEngine(registry={A + ":1": DIGEST})
    engine.names[A + ":1"] = OTHER_ID
    engine.images[OTHER_ID] = {"Id": OTHER_ID, "RepoTags": [A + ":1"], "RepoDigests": []}
    engine.images[SOURCE_ID]["RepoDigests"].append(A + "@" + DIGEST)
    result, _task = promote(engine, destinations=[A + ":1"])
    entry = result["destinations"][0]
    assert (entry["changed"], entry["tagged"], entry["pushed"]) == (True, True, False)
    assert entry["reason"].startswith("the local name points at another image")


def test_check_mode_tags_and_pushes_nothing_and_predicts_per_destination():
    engine = FakeEngine(registry={A + ":1": DIGEST})
    engine.names[A + ":1"] = SOURCE_ID
    engine.images[SOURCE_ID]["RepoDigests"].append(A + "@" + DIGEST)
    result, _task = promote(engine, check_mode=True)
    assert engine.paths("POST") == []
    assert [entry["changed"] for entry in result["destinations"]] == [False, True]
    assert result["destinations"][1]["digest"] is None and result["digest"] is None
    assert "verified_digest" not in result["destinations"][1]


def test_registries_that_disagree_fail_naming_the_destination():
    engine = FakeEngine(registry={A + ":1": OLD})

    original = engine.answer

    def answer(method, path, params):
        response = original(method, path, params)
        if method == "POST" and path == "/images/{0}/push".format(A):
            engine.registry[A + ":1"] = OLD  # someone pushed over it in between
        return response

    engine.answer = answer
    with pytest.raises(MobyEngineError, match=r"do not hold the same image after the push: 127.0.0.1:5000/team/app:1: "
                                              r"the registry holds sha256:0+, but the push reported sha256:d+"):
        promote(engine)


def test_transient_registry_failure_is_retried_per_destination():
    engine = FakeEngine(fail_distribution=1)
    waits = []
    result, _task = promote(engine, destinations=[A + ":1"], retries=2, retry_delay=0.5, sleep=waits.append)
    entry = result["destinations"][0]
    assert waits == [0.5]
    assert entry["attempts"] == [{"operation": "registry digest",
                                  "error": "received unexpected HTTP status: 503 Service Unavailable",
                                  "transient": True, "reason": "the registry answered with a server error (5xx)",
                                  "wait": 0.5}]
    assert entry["pushed"] is True


def test_transient_failure_without_retries_fails():
    engine = FakeEngine(fail_distribution=1)
    with pytest.raises(EngineAPIError, match="cannot read the digest of .*: received unexpected HTTP status: 503"):
        promote(engine, destinations=[A + ":1"])


def test_all_tags_and_destinations_are_refused():
    with pytest.raises(InvalidInput, match="all_tags and destinations"):
        promote(FakeEngine(), all_tags=True)


def test_the_credentials_of_every_registry_are_kept_for_masking():
    _result, task = promote(FakeEngine())
    # run_module masks every secret the kept credentials resolved: both registries' passwords.
    secrets = set().union(*(source.secrets for source in task.secret_sources))
    assert {"a-secret", "b-secret"} <= secrets
