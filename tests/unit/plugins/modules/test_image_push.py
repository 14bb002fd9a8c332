# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_push's decisions and the credentials it sends, against the shared fake engine.

The real EngineClient, Credentials and ImagePusher run; the fake engine's registry holds what was pushed.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    EngineAPIError,
    InvalidInput,
    NotFound,
)
from ansible_collections.moby.engine.plugins.modules.image_push import OPTIONS, ImagePusher
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import error, sha, stream

REPO = "127.0.0.1:5000/team/app"
IMAGE_ID = sha("app v1")
OLD_DIGEST = sha("old manifest")
PASSWORD = "s3cret-Passw0rd"


@pytest.fixture
def push(make_task):
    """push(client, check_mode=False, **params) -> (result, task)."""

    def run(client, check_mode=False, **params):
        params.setdefault("name", REPO + ":v1")
        task = make_task(client, OPTIONS, check_mode, registry=True, **params)
        return ImagePusher(task).run(), task

    return run


def local_app(engine, digests=(), tags=(REPO + ":v1",)):
    return engine.add_image(*tags, image_id=IMAGE_ID, digests=digests)


def push_stream(layer_status):
    return stream({"status": "The push refers to repository [{0}]".format(REPO)},
                  {"status": "Preparing", "progressDetail": {}, "id": "db16d52f3b98"},
                  {"status": "Pushing", "progressDetail": {"current": 512, "total": 26}, "id": "db16d52f3b98"},
                  {"status": layer_status, "progressDetail": {}, "id": "db16d52f3b98"},
                  {"status": "v1: digest: {0} size: 523".format(OLD_DIGEST)},
                  {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": OLD_DIGEST, "Size": 523}})


def auth_headers(engine):
    """The decoded X-Registry-Auth of each request that carried one."""
    return [request.auth for request in engine.requests if "X-Registry-Auth" in request.headers]


# -- the idempotency decision --------------------------------------------------

def test_registry_has_this_image_nothing_is_pushed(docker, push):
    client, engine = docker
    local_app(engine, digests=(REPO + "@" + OLD_DIGEST,))
    engine.publish(REPO + ":v1", IMAGE_ID, digest=OLD_DIGEST)
    result, _task = push(client)
    assert engine.mutations() == []
    assert result["changed"] is False
    assert result["pushed"] is False
    assert (result["digest"], result["size"]) == (OLD_DIGEST, 527)
    assert result["layers"] == {"pushed": [], "existed": [], "mounted": []}
    assert result["diff"]["before"] == result["diff"]["after"]


def test_digest_of_another_repository_does_not_count(docker, push):
    client, engine = docker
    local_app(engine, digests=("127.0.0.1:5000/team/other@" + OLD_DIGEST,))
    engine.publish(REPO + ":v1", IMAGE_ID, digest=OLD_DIGEST)
    result, _task = push(client)
    assert engine.mutations() == [("POST", "/images/127.0.0.1:5000/team/app/push")]
    assert result["changed"] is True


def test_registry_has_other_content_push_reports_new_digest(docker, push):
    client, engine = docker
    local_app(engine, digests=(REPO + "@" + OLD_DIGEST,))
    engine.publish(REPO + ":v1", sha("another image"))
    result, _task = push(client)
    new_digest = engine.registry[REPO + ":v1"].digest
    assert [(request.path, request.query["tag"]) for request in engine.requests if request.method == "POST"] == [
        ("/images/127.0.0.1:5000/team/app/push", "v1")]
    assert result["changed"] is True and result["pushed"] is True
    assert (result["digest"], result["size"]) == (new_digest, 527)
    assert result["layers"] == {"pushed": [IMAGE_ID[7:19]], "existed": [], "mounted": []}
    assert result["diff"]["after"]["digest"] == new_digest
    assert REPO + "@" + new_digest in result["image"]["RepoDigests"]
    # The second run finds the registry holding the image.
    again, _task = push(client)
    assert again["changed"] is False
    assert len(engine.calls("POST")) == 1


def test_registry_without_the_tag_is_pushed_and_layer_states_are_summarised(docker, push):
    client, engine = docker
    local_app(engine)
    engine.on("POST", ".*/push", push_stream("Mounted from team/base"))
    result, _task = push(client)
    assert result["registry_digest"] is None
    assert result["layers"] == {"pushed": [], "existed": [], "mounted": ["db16d52f3b98"]}


def test_check_mode_predicts_and_pushes_nothing(docker, push):
    client, engine = docker
    local_app(engine)
    engine.publish(REPO + ":v1", sha("another image"), digest=OLD_DIGEST)
    before = engine.snapshot()
    result, _task = push(client, check_mode=True)
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True and result["pushed"] is False
    assert result["digest"] is None
    assert result["diff"] == {"before": {"reference": REPO + ":v1", "digest": OLD_DIGEST},
                              "after": {"reference": REPO + ":v1", "digest": "(a new manifest, computed by the push)"}}


def test_tag_option_and_default_tag(docker, push):
    client, engine = docker
    local_app(engine, tags=(REPO + ":v1", REPO + ":latest"))
    push(client, name=REPO, tag="v1")
    assert "/distribution/127.0.0.1:5000/team/app:v1/json" in engine.paths("GET")
    push(client, name=REPO, check_mode=True)
    assert "/distribution/127.0.0.1:5000/team/app:latest/json" in engine.paths("GET")


def test_podman_has_no_distribution_endpoint_so_every_run_pushes(podman, push):
    client, engine = podman
    local_app(engine)
    result, task = push(client)
    assert result["changed"] is True
    # The aux record Podman leaves out is rebuilt from its status line.
    assert result["digest"] == engine.registry[REPO + ":v1"].digest
    assert task.warnings == [
        "Podman 4.3.1 (API 1.41) has no GET /distribution/127.0.0.1:5000/team/app:v1/json endpoint, so the "
        "registry's digest of 127.0.0.1:5000/team/app:v1 is unknown: the image is pushed on every run and the task "
        "always reports a change"]


# -- all_tags ------------------------------------------------------------------

def test_all_tags_pushes_every_local_tag_of_the_repository(docker, push):
    client, engine = docker
    local_app(engine, tags=(REPO + ":v1", REPO + ":v2", "127.0.0.1:5000/team/other:v1"))
    result, _task = push(client, name=REPO, all_tags=True)
    assert [entry["name"] for entry in result["results"]] == [REPO + ":v1", REPO + ":v2"]
    assert sorted(engine.registry) == [REPO + ":v1", REPO + ":v2"]
    assert result["diff"]["after"][0]["reference"] == REPO + ":v1"
    assert push(client, name=REPO, all_tags=True)[0]["changed"] is False


def test_all_tags_without_local_tags(docker, push):
    client, _engine = docker
    with pytest.raises(NotFound) as exc:
        push(client, name=REPO, all_tags=True)
    assert str(exc.value) == ("the engine has no image tagged in the repository 127.0.0.1:5000/team/app; tag the images "
                              "to push first (moby.engine.image_tag)")


# -- credentials ---------------------------------------------------------------

def test_no_credentials_still_sends_an_empty_auth_header(docker, push):
    client, engine = docker
    local_app(engine)
    push(client)
    assert auth_headers(engine) == [{}, {}]


def test_identitytoken_from_registry_auth_is_passed_through(docker, push):
    client, engine = docker
    local_app(engine)
    push(client, registry_auth={"identitytoken": "refresh-token-1"})
    assert auth_headers(engine) == [{"identitytoken": "refresh-token-1", "serveraddress": "127.0.0.1:5000"}] * 2


def test_identitytoken_from_config_json_is_passed_through(docker, push, tmp_path):
    client, engine = docker
    local_app(engine)
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {"127.0.0.1:5000": {"identitytoken": "refresh-token-2"}}}))
    push(client, docker_config=str(tmp_path))
    assert auth_headers(engine) == [{"identitytoken": "refresh-token-2", "serveraddress": "127.0.0.1:5000"}] * 2


def test_identitytoken_from_a_credential_helper_is_passed_through(docker, push, tmp_path, monkeypatch):
    client, engine = docker
    local_app(engine)
    helper = tmp_path / "docker-credential-tokenhelper"
    helper.write_text('#!/bin/sh\nread server\n'
                      'printf \'{"ServerURL":"%s","Username":"<token>","Secret":"refresh-token-3"}\' "$server"\n')
    helper.chmod(0o755)
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"127.0.0.1:5000": "tokenhelper"}}))
    monkeypatch.setenv("PATH", "{0}:/usr/bin:/bin".format(tmp_path))
    push(client, docker_config=str(tmp_path))
    assert auth_headers(engine) == [{"identitytoken": "refresh-token-3", "serveraddress": "127.0.0.1:5000"}] * 2


def test_accepted_credentials_push(docker, push):
    client, engine = docker
    local_app(engine)
    engine.registry_users["127.0.0.1:5000"] = ("ci", PASSWORD)
    result, task = push(client, registry_auth={"username": "ci", "password": PASSWORD})
    assert result["pushed"] is True
    assert PASSWORD in set().union(*(source.secrets for source in task.secret_sources))


# -- failures ------------------------------------------------------------------

def test_refused_credentials_fail_before_pushing_with_a_hint_and_no_secret(docker, push):
    client, engine = docker
    local_app(engine)
    engine.registry_users["127.0.0.1:5000"] = ("ci", "another password")
    with pytest.raises(AuthenticationFailed) as caught:
        push(client, registry_auth={"username": "ci", "password": PASSWORD})
    assert engine.mutations() == []
    assert "unauthorized: authentication required" in str(caught.value)
    assert "check registry_auth" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_upload_refused_inside_the_stream_gets_the_hint(docker, push):
    client, engine = docker
    local_app(engine)
    engine.registry_users["127.0.0.1:5000"] = ("ci", "another password")
    engine.on("GET", "/distribution/.*", error(404, "manifest unknown: manifest unknown"))
    with pytest.raises(AuthenticationFailed, match="unauthorized.*check registry_auth"):
        push(client, registry_auth={"username": "ci", "password": PASSWORD})
    assert engine.registry == {}


def test_unreachable_registry_says_so(docker, push):
    client, engine = docker
    local_app(engine)
    engine.on("GET", "/distribution/.*", error(500, 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: '
                                                    'connect: connection refused'))
    with pytest.raises(EngineAPIError, match="cannot read the digest of .*connection refused.*registry is running"):
        push(client)
    assert engine.mutations() == []


def test_missing_local_image_explains_the_image_tag_recipe(docker, push):
    client, engine = docker
    with pytest.raises(NotFound, match="has no image named 127.0.0.1:5000/team/app:v1.*moby.engine.image_tag"):
        push(client)
    assert [path for path in engine.paths() if path.startswith("/distribution/")] == []


@pytest.mark.parametrize("name, tag, message", [
    (REPO + "@" + OLD_DIGEST, None, "names a digest"),
    (REPO + ":v1", "v2", "carries the tag 'v1' but tag is 'v2'"),
    (REPO, "-bad", "invalid tag '-bad'"),
    ("127.0.0.1:5000/Team/app", None, "must be lower case"),
])
def test_bad_names_fail_before_any_request(docker, push, name, tag, message):
    client, engine = docker
    with pytest.raises(InvalidInput, match=message):
        push(client, name=name, tag=tag)
    assert engine.requests == []
