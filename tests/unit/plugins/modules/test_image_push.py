# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_push's decisions and the credentials it sends, against the shared fake engine.

The real EngineClient, Credentials and ImagePusher run; the fake engine's registry holds what was pushed.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    EngineAPIError,
    InvalidInput,
    NotFound,
    UnsupportedApiVersion,
)
from ansible_collections.moby.engine.plugins.module_utils._references import parse_reference
from ansible_collections.moby.engine.plugins.modules.image_push import OPTIONS, REQUIRES, ImagePusher, decide, validate
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Manifest, Reply, error, familiar, sha, stream

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


# -- one platform of a multi-platform image (the containerd image store) --------------------------------------

INDEX = sha("index")
ARM = sha("arm64 manifest")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def multiplatform(engine, present=("arm64",)):
    """The local image REPO:v1 as an index of amd64 and arm64/v8 (content of ``present`` only), answering inspect with
    ``platform`` as Docker 28's containerd store does: the platform's own data, or 404 when its content is absent;
    and a push with ``platform`` that puts that manifest alone under the tag, with no aux record."""
    engine.add_image(REPO + ":v1", image_id=INDEX, digests=(REPO + "@" + INDEX,))
    engine.images[INDEX]["Descriptor"] = {"mediaType": OCI_INDEX, "digest": INDEX, "size": 506}

    def inspect(record):
        image = engine.image(record.path[len("/images/"):-len("/json")])
        platform = json.loads(record.query.get("platform") or "null")
        if image is None or platform is None:
            return None  # the fake's own answer
        if platform.get("architecture") not in present:
            return error(404, "image with reference {0} was found but does not provide the specified platform "
                              "(linux/{1})".format(familiar(REPO + ":v1"), platform.get("architecture")))
        return Reply(200, dict(image, Id=ARM, Architecture="arm64", Variant="v8", Descriptor={
            "mediaType": OCI_MANIFEST, "digest": ARM, "size": 405,
            "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}))

    def pushed(record):
        engine.registry["{0}:{1}".format(REPO, record.query["tag"])] = Manifest(ARM, INDEX, size=405)
        return stream({"status": "The push refers to repository [{0}]".format(REPO)},
                      {"status": "Pushed", "progressDetail": {}, "id": "d9b2bde500f0"},
                      {"status": "{0}: digest: {1} size: 405".format(record.query["tag"], ARM)})

    engine.on("GET", "/images/.*/json", lambda record: inspect(record) or engine.inspect_image(
        record, record.path[len("/images/"):-len("/json")]))
    engine.on("POST", "/images/.*/push", pushed)


def test_platform_push_sends_that_manifest_alone_and_a_rerun_pushes_nothing(fake_engine, push):
    client, engine = fake_engine(speaks="1.51")
    multiplatform(engine)
    result, _task = push(client, platform="linux/aarch64")
    assert engine.mutations() == [("POST", "/images/{0}/push".format(REPO))]
    assert json.loads(engine.last("POST").query["platform"]) == {"os": "linux", "architecture": "arm64"}
    assert (result["changed"], result["pushed"], result["digest"], result["size"]) == (True, True, ARM, 405)
    assert result["reason"] == "the registry does not have the tag, or cannot say which digest it has"
    assert result["image"]["Id"] == ARM
    assert result["diff"] == {"before": {"reference": REPO + ":v1", "digest": None, "platform": "linux/aarch64"},
                              "after": {"reference": REPO + ":v1", "digest": ARM, "platform": "linux/aarch64"}}

    again, _task = push(client, platform="linux/arm64")
    assert engine.mutations() == [("POST", "/images/{0}/push".format(REPO))]
    assert (again["changed"], again["pushed"], again["digest"]) == (False, False, ARM)
    assert again["reason"] == "the registry holds the linux/arm64 manifest under the tag"


def test_platform_check_mode_predicts_from_the_platform_manifest_not_the_index(fake_engine, push):
    # The registry holds the whole index under the tag, and the local image carries that digest: without platform
    # that is current, with platform the tag must name the arm64 manifest alone.
    client, engine = fake_engine(speaks="1.51")
    multiplatform(engine)
    engine.publish(REPO + ":v1", INDEX, digest=INDEX)
    before = engine.snapshot()
    result, _task = push(client, check_mode=True, platform="linux/arm64")
    assert engine.mutations() == [] and engine.snapshot() == before
    assert (result["changed"], result["pushed"], result["digest"]) == (True, False, None)
    assert result["reason"] == "the registry holds another manifest under the tag than the linux/arm64 one"
    assert result["diff"]["before"]["digest"] == INDEX
    unchanged, _task = push(client, check_mode=True)
    assert unchanged["changed"] is False


def test_platform_whose_content_is_absent_fails_before_pushing(fake_engine, push):
    client, engine = fake_engine(speaks="1.51")
    multiplatform(engine, present=())
    with pytest.raises(NotFound) as exc:
        push(client, platform="linux/arm64")
    assert str(exc.value) == ("the engine has {0}:v1, but not the content of its platform linux/arm64: pull that "
                              "platform first (moby.engine.image_pull with platform: linux/arm64)".format(REPO))
    assert engine.mutations() == []


def test_platform_decision_without_a_manifest_descriptor():
    ref = parse_reference(REPO + ":v1")
    carried = {"RepoDigests": [REPO + "@" + OLD_DIGEST]}
    # The classic store: no Descriptor, the image has one platform, RepoDigests decide.
    assert decide(ref, carried, OLD_DIGEST, "linux/amd64") == (False, "the registry holds this image under the tag")
    assert decide(ref, carried, sha("x"), "linux/amd64")[0] is True
    # An engine before API 1.49 answers for the index: its digest is not the platform's, so push.
    index = dict(carried, Descriptor={"mediaType": OCI_INDEX, "digest": OLD_DIGEST})
    assert decide(ref, index, OLD_DIGEST, "linux/arm64") == (
        True, "the engine does not say which manifest linux/arm64 is (API 1.49 needed), so the registry's digest "
              "cannot be compared")
    assert decide(ref, index, None, "linux/arm64")[0] is True


@pytest.mark.parametrize("platform", ["linux/arm64/v8/extra", "linux//arm64", "Linux arm64"])
def test_bad_platform_is_refused_before_the_engine_is_asked(platform):
    with pytest.raises(InvalidInput) as exc:
        validate({"platform": platform})
    assert str(exc.value) == ("platform {0!r} is not os[/arch[/variant]], for example linux/amd64 or "
                              "linux/arm64/v8".format(platform))


def test_platform_needs_api_1_46(docker, make_task):
    client, engine = docker
    task = make_task(client, OPTIONS, registry=True, name=REPO + ":v1", platform="linux/arm64")
    with pytest.raises(UnsupportedApiVersion) as exc:
        check_requirements(client, REQUIRES, task.params, {})
    assert str(exc.value) == ("platform needs engine API 1.46 or newer; the engine at tcp://127.0.0.1:2375 is Docker "
                              "20.10.24+dfsg1 (API 1.41). Leave platform unset on this engine, or upgrade it")
    assert engine.mutations() == []
