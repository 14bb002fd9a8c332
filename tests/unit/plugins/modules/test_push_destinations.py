# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_push's promotion to several registries: decisions per destination, credentials per registry, the final check.

The real EngineClient, Credentials and ImagePusher run against the shared fake engine, whose registry keeps, per
repo:tag, the manifest each registry holds.
"""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import EngineAPIError, InvalidInput, MobyEngineError
from ansible_collections.moby.engine.plugins.module_utils._pushes import (
    decide_tag,
    destination_references,
    disagreements,
)
from ansible_collections.moby.engine.plugins.module_utils._references import parse_reference
from ansible_collections.moby.engine.plugins.module_utils._retry import RetryPolicy
from ansible_collections.moby.engine.plugins.modules.image_push import OPTIONS, ImagePusher, destination_credentials
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Manifest, Reply, error, sha, stream

SOURCE_ID = "sha256:" + "1" * 64
OTHER_ID = "sha256:" + "2" * 64
# The manifest digest of SOURCE_ID, the same in every registry (content addressed).
DIGEST = sha("manifest " + SOURCE_ID)
OLD = "sha256:" + "0" * 64
A = "127.0.0.1:5000/team/app"
B = "127.0.0.1:5001/prod/app"


def app_engine(engine):
    """The local image app:1 (SOURCE_ID)."""
    engine.add_image("app:1", image_id=SOURCE_ID)
    return engine


def local_name(engine, name, image_id=SOURCE_ID, pushed=True):
    """``name`` already names ``image_id`` locally (and, pushed, carries the registry's digest)."""
    engine.add_image(name, image_id=image_id, digests=(name.rpartition(":")[0] + "@" + DIGEST,) if pushed else ())


def auth_users(engine, suffix):
    """Registry user each request ending in ``suffix`` carried, by path."""
    return {request.path: request.auth.get("username") for request in engine.requests
            if request.path.endswith(suffix) and request.auth is not None}


AUTHS = {"127.0.0.1:5000": {"username": "alice", "password": "a-secret"},
         "127.0.0.1:5001": {"username": "bob", "password": "b-secret"}}


@pytest.fixture
def promote(docker, make_task):
    """promote(check_mode=False, sleep=None, **params) -> (result, task) against the docker fixture's engine."""
    client, _engine = docker

    def run(check_mode=False, sleep=None, **overrides):
        params = dict({"name": "app:1", "destinations": [A + ":1", B], "registry_auths": AUTHS}, **overrides)
        task = make_task(client, OPTIONS, check_mode, registry=True, **params)
        pusher = ImagePusher(task)
        if sleep is not None:
            pusher.policy = RetryPolicy(task.params["retries"], task.params["retry_delay"], sleep)
        return pusher.run(), task

    return run


@pytest.fixture
def engine(docker):
    return app_engine(docker[1])


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


def test_promotes_to_two_registries_each_with_its_own_credentials(engine, promote):
    result, _task = promote()
    assert [entry["name"] for entry in result["destinations"]] == [A + ":1", B + ":1"]
    assert all(entry["changed"] and entry["tagged"] and entry["pushed"] for entry in result["destinations"])
    assert sorted(engine.paths("POST")) == sorted([
        "/images/{0}/tag".format(SOURCE_ID), "/images/{0}/tag".format(SOURCE_ID),
        "/images/{0}/push".format(A), "/images/{0}/push".format(B)])
    assert auth_users(engine, "/push") == {"/images/{0}/push".format(A): "alice", "/images/{0}/push".format(B): "bob"}
    assert auth_users(engine, "/json") == {"/distribution/{0}:1/json".format(A): "alice",
                                           "/distribution/{0}:1/json".format(B): "bob"}
    assert result["changed"] is True and result["digest"] == DIGEST
    assert [entry["verified_digest"] for entry in result["destinations"]] == [DIGEST, DIGEST]
    assert result["diff"]["before"][0] == {"reference": A + ":1", "digest": None, "local_image": None}
    assert result["diff"]["after"][1] == {"reference": B + ":1", "digest": DIGEST, "local_image": SOURCE_ID}
    # The second run finds every registry holding the image.
    again, _task = promote()
    assert again["changed"] is False
    assert len(engine.paths("POST")) == 4


def test_current_destination_moves_no_bytes(engine, promote):
    engine.publish(A + ":1", SOURCE_ID, digest=DIGEST)
    local_name(engine, A + ":1")
    result, _task = promote()
    first, second = result["destinations"]
    assert (first["changed"], first["tagged"], first["pushed"]) == (False, False, False)
    assert first["reason"] == "the local name already points at the image; the registry holds this image under the tag"
    assert (second["changed"], second["pushed"]) == (True, True)
    assert engine.paths("POST") == ["/images/{0}/tag".format(SOURCE_ID), "/images/{0}/push".format(B)]


def test_everything_current_is_no_change(engine, promote):
    for repo in (A, B):
        engine.publish(repo + ":1", SOURCE_ID, digest=DIGEST)
        local_name(engine, repo + ":1")
    result, _task = promote()
    assert result["changed"] is False and engine.paths("POST") == []
    assert result["reason"] == "every destination's registry holds the image under its tag"


def test_local_name_elsewhere_is_moved_even_when_the_registry_is_current(engine, promote):
    engine.publish(A + ":1", SOURCE_ID, digest=DIGEST)
    local_name(engine, A + ":1", image_id=OTHER_ID, pushed=False)
    engine.images[SOURCE_ID]["RepoDigests"].append(A + "@" + DIGEST)
    result, _task = promote(destinations=[A + ":1"])
    entry = result["destinations"][0]
    assert (entry["changed"], entry["tagged"], entry["pushed"]) == (True, True, False)
    assert entry["reason"].startswith("the local name points at another image")
    assert engine.tags()[A + ":1"] == SOURCE_ID


def test_check_mode_tags_and_pushes_nothing_and_predicts_per_destination(engine, promote):
    engine.publish(A + ":1", SOURCE_ID, digest=DIGEST)
    local_name(engine, A + ":1")
    before = engine.snapshot()
    result, _task = promote(check_mode=True)
    assert engine.paths("POST") == []
    assert engine.snapshot() == before
    assert [entry["changed"] for entry in result["destinations"]] == [False, True]
    assert result["destinations"][1]["digest"] is None and result["digest"] is None
    assert "verified_digest" not in result["destinations"][1]


def test_registries_that_disagree_fail_naming_the_destination(engine, promote):
    engine.publish(A + ":1", OTHER_ID, digest=OLD)

    def push_then_overwrite(request):
        answer = engine.push_image(request, A)
        engine.publish(A + ":1", OTHER_ID, digest=OLD)  # someone pushed over it in between
        return answer

    engine.on("POST", "/images/{0}/push".format(A), push_then_overwrite)
    with pytest.raises(MobyEngineError) as exc:
        promote()
    assert str(exc.value) == ("the destinations do not hold the same image after the push: 127.0.0.1:5000/team/app:1: "
                              "the registry holds {0}, but the push reported {1}".format(OLD, DIGEST))


def test_transient_registry_failure_is_retried_per_destination(engine, promote):
    engine.on("GET", "/distribution/.*", error(500, "received unexpected HTTP status: 503 Service Unavailable"), times=1)
    waits = []
    result, _task = promote(destinations=[A + ":1"], retries=2, retry_delay=0.5, sleep=waits.append)
    entry = result["destinations"][0]
    assert waits == [0.5]
    assert entry["attempts"] == [{"operation": "registry digest",
                                  "error": "received unexpected HTTP status: 503 Service Unavailable",
                                  "transient": True, "reason": "the registry answered with a server error (5xx)",
                                  "wait": 0.5}]
    assert entry["pushed"] is True


def test_transient_failure_without_retries_fails(engine, promote):
    engine.on("GET", "/distribution/.*", error(500, "received unexpected HTTP status: 503 Service Unavailable"), times=1)
    with pytest.raises(EngineAPIError, match="cannot read the digest of .*: received unexpected HTTP status: 503"):
        promote(destinations=[A + ":1"])


def test_all_tags_and_destinations_are_refused(engine, promote):
    with pytest.raises(InvalidInput, match="all_tags and destinations"):
        promote(all_tags=True)
    assert engine.mutations() == []


def test_the_credentials_of_every_registry_are_kept_for_masking(engine, promote):
    _result, task = promote()
    assert engine.registry
    # run_module masks every secret the kept credentials resolved: both registries' passwords.
    secrets = set().union(*(source.secrets for source in task.secret_sources))
    assert {"a-secret", "b-secret"} <= secrets


def test_platform_goes_to_every_destination_and_a_rerun_pushes_nothing(fake_engine, make_task):
    # The containerd store (API 1.51): app:1 is an index; with platform each registry gets the arm64 manifest alone,
    # and each destination is current once its digest is that manifest's.
    client, engine = fake_engine(speaks="1.51")
    app_engine(engine)
    arm = sha("arm64 manifest")
    engine.images[SOURCE_ID]["Descriptor"] = {"mediaType": "application/vnd.oci.image.index.v1+json",
                                              "digest": SOURCE_ID, "size": 506}

    def inspect(record):
        name = record.path[len("/images/"):-len("/json")]
        if engine.image(name) is not None and record.query.get("platform"):
            return Reply(200, dict(engine.image(name), Id=arm, Architecture="arm64", Descriptor={
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": 405}))
        return engine.inspect_image(record, name)

    def pushed(record):
        repository = record.path[len("/images/"):-len("/push")]
        engine.registry["{0}:{1}".format(repository, record.query["tag"])] = Manifest(arm, SOURCE_ID, size=405)
        return stream({"status": "{0}: digest: {1} size: 405".format(record.query["tag"], arm)})

    engine.on("GET", "/images/.*/json", inspect)
    engine.on("POST", "/images/.*/push", pushed)
    params = dict(name="app:1", destinations=[A, B], registry_auths=AUTHS, platform="linux/arm64")
    result = ImagePusher(make_task(client, OPTIONS, registry=True, **params)).run()
    pushes = [request for request in engine.requests if request.method == "POST" and request.path.endswith("/push")]
    assert sorted(request.path for request in pushes) == ["/images/{0}/push".format(A), "/images/{0}/push".format(B)]
    assert {request.query["platform"] for request in pushes} == {'{"architecture": "arm64", "os": "linux"}'}
    assert (result["changed"], result["digest"]) == (True, arm)
    assert [entry["verified_digest"] for entry in result["destinations"]] == [arm, arm]

    again = ImagePusher(make_task(client, OPTIONS, registry=True, **params)).run()
    assert len([request for request in engine.requests if request.path.endswith("/push")]) == 2
    assert again["changed"] is False
    assert [entry["reason"] for entry in again["destinations"]] == [
        "the local name already points at the image; the registry holds the linux/arm64 manifest under the tag"] * 2
