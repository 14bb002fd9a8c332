# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_pull's decisions and runs, against the shared fake engine (its registry holds what can be pulled)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    InvalidInput,
    MobyEngineError,
    UnsupportedByEngine,
)
from ansible_collections.moby.engine.plugins.modules.image_pull import OPTIONS, REQUIRES, ImagePuller
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import auth_header, error, sha, stream

OLD_ID = sha("old busybox")
REMOTE_DIGEST = sha("remote busybox manifest")
LOCAL_DIGEST = sha("local busybox manifest")


@pytest.fixture
def pull(make_task):
    """pull(client, check_mode=False, **params) -> result of ImagePuller(task).run()."""

    def run(client, check_mode=False, **params):
        return ImagePuller(make_task(client, OPTIONS, check_mode, registry=True, **params)).run()

    return run


def old_busybox(engine, digest=LOCAL_DIGEST, repository="busybox"):
    return engine.add_image("busybox:latest", image_id=OLD_ID, digests=("{0}@{1}".format(repository, digest),))


# -- pull: missing -----------------------------------------------------------

def test_missing_present_does_not_pull(docker, pull):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest", digest=REMOTE_DIGEST)
    result = pull(client, name=["busybox"])
    assert engine.calls()[1:] == [("GET", "/images/busybox:latest/json")]
    assert result["changed"] is False
    image = engine.images[OLD_ID]
    assert result["results"] == [{"name": "busybox", "pulled": False, "changed": False, "attempts": [],
                                  "reason": "the image is present", "image": image}]
    assert result["image"] == image
    assert result["diff"]["before"] == result["diff"]["after"]


def test_missing_absent_pulls(docker, pull):
    client, engine = docker
    manifest = engine.publish("busybox:latest", digest=REMOTE_DIGEST)
    result = pull(client, name=["busybox"])
    request = engine.last("POST")
    assert request.query == {"fromImage": "busybox", "tag": "latest"}
    assert request.auth == {}
    assert result["changed"] is True
    entry = result["results"][0]
    assert entry["pulled"] is True
    assert entry["image"] == engine.images[manifest.image_id]
    assert entry["progress"]["layers"] == {"Pull complete": 1}
    assert result["diff"] == {"before": {"exists": False},
                              "after": {"exists": True, "id": manifest.image_id, "tags": ["busybox:latest"],
                                        "digests": ["busybox@" + REMOTE_DIGEST]}}
    # The second run finds the image and pulls nothing.
    again = pull(client, name=["busybox"])
    assert again["changed"] is False
    assert len(engine.calls("POST")) == 1


def test_tag_option_applies_to_untagged_names(docker, pull):
    client, engine = docker
    engine.add_image("busybox:1.36")
    engine.add_image("alpine:3")
    result = pull(client, name=["busybox", "alpine:3"], tag="1.36")
    assert sorted(engine.paths("GET")) == ["/_ping", "/images/alpine:3/json", "/images/busybox:1.36/json"]
    assert result["changed"] is False
    assert [entry["name"] for entry in result["results"]] == ["busybox", "alpine:3"]
    assert "image" not in result


def test_missing_absent_check_mode_never_pulls(docker, pull):
    client, engine = docker
    engine.publish("busybox:latest")
    before = engine.snapshot()
    result = pull(client, check_mode=True, name=["busybox"])
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True
    assert result["results"][0]["pulled"] is False
    assert result["results"][0]["image"] is None


def test_missing_other_platform_pulls(docker, pull):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest")
    result = pull(client, name=["busybox"], platform="linux/arm64")
    assert engine.last("POST").query == {"fromImage": "busybox", "tag": "latest", "platform": "linux/arm64"}
    assert result["changed"] is True
    assert result["image"]["Architecture"] == "arm64"


def test_missing_same_platform_does_not_pull(docker, pull):
    client, engine = docker
    old_busybox(engine)
    result = pull(client, name=["busybox"], platform="linux/amd64")
    assert engine.mutations() == []
    assert result["changed"] is False


ARM64_JSON = json.dumps({"os": "linux", "architecture": "arm64"}, sort_keys=True, separators=(",", ":"))


def test_platform_presence_asks_for_that_platform_from_api_1_49(fake_engine, pull):
    # The containerd image store keeps several platforms of an image: only the engine can say whether arm64 is
    # there, and it answers 404 when that platform's content is absent.
    client, engine = fake_engine(speaks="1.51")
    engine.publish("busybox:latest")
    engine.on("GET", "/images/busybox:latest/json", error(
        404, "image with reference busybox:latest was found but does not provide the specified platform "
             "(linux/arm64)"), times=1)
    result = pull(client, name=["busybox"], platform="linux/arm64")
    inspects = [call for call in engine.requests if call.method == "GET" and call.path.endswith("/json")]
    assert [json.loads(call.query["platform"]) for call in inspects] == [
        {"os": "linux", "architecture": "arm64"}] * 2
    assert result["changed"] is True
    assert result["results"][0]["reason"] == "the image is not present (for this platform)"


def test_platform_presence_is_compared_locally_before_api_1_49(docker, pull):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest")
    pull(client, name=["busybox"], platform="linux/arm64")
    assert all("platform" not in call.query for call in engine.requests if call.method == "GET")


# -- pull: always ------------------------------------------------------------

def test_always_current_digest_does_not_pull(docker, pull):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest", image_id=OLD_ID, digest=LOCAL_DIGEST)
    result = pull(client, name=["busybox"], pull="always")
    assert engine.paths("GET")[-1] == "/distribution/busybox:latest/json"
    assert engine.last("GET").auth == {}
    assert engine.mutations() == []
    assert result["changed"] is False
    assert result["results"][0]["registry_digest"] == LOCAL_DIGEST
    assert result["results"][0]["pulled"] is False


def test_always_new_digest_pulls_and_changes(docker, pull):
    client, engine = docker
    old_busybox(engine)
    manifest = engine.publish("busybox:latest", digest=REMOTE_DIGEST)
    result = pull(client, name=["busybox"], pull="always")
    assert engine.mutations() == [("POST", "/images/create")]
    assert result["changed"] is True
    assert result["results"][0]["registry_digest"] == REMOTE_DIGEST
    assert result["image"] == engine.images[manifest.image_id]
    assert result["diff"]["before"]["id"] == OLD_ID
    assert result["diff"]["after"]["id"] == manifest.image_id
    # The old image lost its tag to the new one, as on dockerd.
    assert engine.images[OLD_ID]["RepoTags"] == []
    assert pull(client, name=["busybox"], pull="always")["changed"] is False


def test_always_pull_with_same_id_gains_the_digest(docker, pull):
    # The digest was not recorded locally (e.g. the image was loaded); the pull finds the same image, whose
    # RepoDigests gain the registry's digest: a change of the image's identity.
    client, engine = docker
    engine.add_image("busybox:latest", image_id=OLD_ID)
    engine.publish("busybox:latest", image_id=OLD_ID, digest=LOCAL_DIGEST)
    result = pull(client, name=["busybox"], pull="always")
    assert len(engine.calls("POST")) == 1
    assert result["results"][0]["pulled"] is True
    assert result["changed"] is True
    assert result["diff"]["after"]["digests"] == ["busybox@" + LOCAL_DIGEST]


def test_always_pull_with_nothing_new_is_no_change(docker, pull):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest", image_id=OLD_ID, digest=LOCAL_DIGEST)
    # The registry cannot say (an error); the pull itself finds the image up to date.
    engine.on("GET", "/distribution/.*", error(500, "received unexpected HTTP status: 503 Service Unavailable"))
    result = pull(client, name=["busybox"], pull="always")
    assert result["results"][0]["pulled"] is True
    assert result["results"][0]["progress"]["messages"][-1] == "Status: Image is up to date for busybox:latest"
    assert result["changed"] is False


def test_always_check_mode_never_pulls(docker, pull):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest", digest=REMOTE_DIGEST)
    before = engine.snapshot()
    result = pull(client, check_mode=True, name=["busybox"], pull="always")
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True
    assert result["image"] == engine.images[OLD_ID]


def test_always_check_mode_current_is_no_change(docker, pull):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest", image_id=OLD_ID, digest=LOCAL_DIGEST)
    assert pull(client, check_mode=True, name=["busybox"], pull="always")["changed"] is False


def test_always_digest_reference_present_is_never_rechecked(docker, pull):
    client, engine = docker
    old_busybox(engine)
    name = "busybox@" + LOCAL_DIGEST
    result = pull(client, name=[name], pull="always")
    assert engine.paths() == ["/_ping", "/images/" + name + "/json"]
    assert result["changed"] is False


def test_digest_reference_pulled_by_digest(docker, pull):
    client, engine = docker
    engine.publish("busybox:1.36", digest=REMOTE_DIGEST)
    result = pull(client, name=["busybox@" + REMOTE_DIGEST])
    assert engine.last("POST").query == {"fromImage": "busybox", "tag": REMOTE_DIGEST}
    assert result["changed"] is True
    assert result["image"]["RepoDigests"] == ["busybox@" + REMOTE_DIGEST]


def test_always_private_registry_gets_its_own_credentials(docker, pull):
    client, engine = docker
    name = "registry.example.com:5000/team/app:1.2"
    engine.add_image(name, image_id=OLD_ID, digests=("registry.example.com:5000/team/app@" + LOCAL_DIGEST,))
    engine.publish(name, image_id=OLD_ID, digest=LOCAL_DIGEST)
    engine.registry_users["registry.example.com:5000"] = ("ci", "s3cret")
    result = pull(client, name=[name], pull="always", registry_auths={
        "registry.example.com:5000": {"username": "ci", "password": "s3cret"},
        "other.example.com": {"username": "other", "password": "x"}})
    request = engine.last("GET")
    assert request.path == "/distribution/" + name + "/json"
    assert (request.auth["username"], request.auth["password"]) == ("ci", "s3cret")
    assert engine.mutations() == []
    assert result["changed"] is False


def test_always_digest_of_other_repository_does_not_count(docker, pull):
    # The same content known under another repository is not proof this repository is current.
    client, engine = docker
    old_busybox(engine, repository="mirror.example.com/busybox")
    engine.publish("busybox:latest", digest=LOCAL_DIGEST)
    result = pull(client, name=["busybox"], pull="always")
    assert len(engine.calls("POST")) == 1
    assert result["changed"] is True


@pytest.mark.parametrize("answer", [error(404, "manifest unknown: manifest unknown"),
                                    error(401, "unauthorized: authentication required")])
def test_always_registry_error_falls_back_to_pull(docker, pull, answer):
    client, engine = docker
    old_busybox(engine)
    engine.publish("busybox:latest", image_id=OLD_ID, digest=LOCAL_DIGEST)
    engine.on("GET", "/distribution/.*", answer)
    result = pull(client, name=["busybox"], pull="always")
    assert result["results"][0]["registry_digest"] is None
    assert len(engine.calls("POST")) == 1
    assert result["changed"] is False


def test_always_absent_pulls_without_asking_registry(docker, pull):
    client, engine = docker
    engine.publish("busybox:latest")
    result = pull(client, name=["busybox"], pull="always")
    assert [path for path in engine.paths() if path.startswith("/distribution/")] == []
    assert len(engine.calls("POST")) == 1
    assert result["changed"] is True


# -- run ---------------------------------------------------------------------

def test_several_images_keep_order(docker, pull):
    client, engine = docker
    names = ["img{0}".format(i) for i in range(6)]
    engine.add_image("img1:latest")
    for name in names:
        engine.publish(name + ":latest")
    result = pull(client, name=names, parallel=3)
    assert [entry["name"] for entry in result["results"]] == names
    assert [entry["changed"] for entry in result["results"]] == [True, False, True, True, True, True]
    assert result["changed"] is True
    assert isinstance(result["diff"], list) and len(result["diff"]) == 6
    assert all("diff" not in entry for entry in result["results"])


def test_single_failure_message(docker, pull):
    client, _engine = docker
    with pytest.raises(MobyEngineError) as exc:
        pull(client, name=["busybox:nope"])
    assert str(exc.value) == "manifest for busybox:nope not found: manifest unknown: manifest unknown"


def test_failures_name_each_image(docker, pull):
    client, engine = docker
    engine.add_image("alpine:latest")
    engine.on("POST", "/images/create", stream({"errorDetail": {"message": "manifest unknown"},
                                                "error": "manifest unknown"}))
    with pytest.raises(MobyEngineError) as exc:
        pull(client, name=["busybox:nope", "alpine", "team/app:x"])
    assert str(exc.value) == "busybox:nope: manifest unknown; team/app:x: manifest unknown"


def test_invalid_name_fails_before_any_engine_call(docker, pull):
    client, engine = docker
    with pytest.raises(InvalidInput):
        pull(client, name=["busybox", "Not Valid"])
    assert engine.requests == []


def test_podman_missing_tag_fails_inside_the_stream(podman, pull):
    client, _engine = podman
    with pytest.raises(MobyEngineError) as exc:
        pull(client, name=["busybox:nope"])
    assert str(exc.value) == ("initializing source docker://docker.io/library/busybox:nope: reading manifest nope in "
                              "busybox: manifest unknown")


def test_unexpected_exceptions_propagate(docker, pull):
    client, engine = docker
    engine.on("POST", "/images/create", KeyError("boom"))
    with pytest.raises(KeyError):
        pull(client, name=["busybox"])


# -- all_tags ----------------------------------------------------------------

def test_all_tags_rejects_tagged_name(docker, pull):
    client, engine = docker
    with pytest.raises(InvalidInput) as exc:
        pull(client, name=["busybox:1.36"], all_tags=True)
    assert str(exc.value) == "'busybox:1.36' names a tag or digest, but all_tags pulls every tag of a repository"
    assert engine.requests == []


def test_all_tags_pulls_repository_and_compares_tags(docker, pull):
    client, engine = docker
    engine.add_image("busybox:1.35", "other:1", image_id=OLD_ID)
    engine.publish("busybox:1.35", image_id=OLD_ID)
    new = engine.publish("busybox:1.36")
    result = pull(client, name=["busybox"], all_tags=True)
    assert engine.last("POST").query == {"fromImage": "busybox"}
    listed = [request for request in engine.requests if request.path == "/images/json"]
    assert json.loads(listed[0].query["filters"]) == {"reference": ["busybox"]}
    assert result["changed"] is True
    assert result["diff"] == {"before": {"busybox:1.35": OLD_ID},
                              "after": {"busybox:1.35": OLD_ID, "busybox:1.36": new.image_id}}
    assert pull(client, name=["busybox"], all_tags=True)["changed"] is False


def test_all_tags_check_mode(docker, pull):
    client, engine = docker
    engine.publish("busybox:1.36")
    result = pull(client, check_mode=True, name=["busybox"], all_tags=True)
    assert engine.mutations() == []
    assert result["changed"] is True
    engine.add_image("busybox:1.36")
    assert pull(client, check_mode=True, name=["busybox"], all_tags=True)["changed"] is False


def test_all_tags_is_refused_on_podman_before_anything_is_pulled(podman, make_task):
    client, engine = podman
    task = make_task(client, OPTIONS, registry=True, name=["registry.example.com/team/app"], all_tags=True)
    with pytest.raises(UnsupportedByEngine) as exc:
        check_requirements(client, REQUIRES, task.params, {})
    assert str(exc.value) == ("all_tags needs a pull of every tag (Podman's service pulls only :latest), which the "
                              "engine at tcp://127.0.0.1:2375, Podman 4.3.1 (API 1.41), does not offer. Leave all_tags "
                              "unset on Podman, or use Docker")
    assert engine.mutations() == []


def test_auth_header_helper_matches_the_client():
    assert auth_header() == "e30="
