# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_remove's decisions and runs, against the shared fake engine (DELETE /images/{name} as dockerd answers)."""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    Conflict,
    EngineAPIError,
    InvalidInput,
    NotFound,
    UnsupportedApiVersion,
)
from ansible_collections.moby.engine.plugins.modules.image_remove import (
    OPTIONS,
    REQUIRES,
    decide,
    predicted_after,
    run,
    shared_layers,
    validate,
)
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import NAME_CHANGE_ENGINES, Reply, error, sha

IMAGE_ID = sha("app")
OTHER_ID = sha("solo")


@pytest.fixture
def remove(make_task):
    def go(client, check_mode=False, **params):
        params.setdefault("name", ["app:1"])
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


def test_absent_is_ok_and_no_change(docker, remove):
    client, engine = docker
    result = remove(client, name=["app:nope"])
    assert engine.mutations() == []
    assert result == {"changed": False, "deleted": [], "untagged": [], "absent": ["app:nope"],
                      "reasons": {"app:nope": "there is no such image"},
                      "results": [{"name": "app:nope", "changed": False, "reason": "there is no such image",
                                   "deleted": [], "untagged": []}],
                      "diff": {"before": {"exists": False}, "after": {"exists": False}}}


def test_remove_only_tag_deletes_image(docker, remove):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    image = dict(engine.images[IMAGE_ID])
    result = remove(client)
    assert engine.mutations() == [("DELETE", "/images/app:1")]
    assert engine.last("DELETE").query == {"force": "0", "noprune": "0"}
    assert result["changed"] is True
    assert result["untagged"] == ["app:1"]
    assert result["deleted"] == [IMAGE_ID]
    assert result["absent"] == []
    assert result["image"] == image
    assert result["diff"] == {"before": {"exists": True, "id": IMAGE_ID, "tags": ["app:1"], "digests": []},
                              "after": {"exists": False}}
    assert engine.images == {}
    assert remove(client)["changed"] is False


RACED = "failed to delete image: consistency error: data changed during operation, retry"


@pytest.fixture
def waits(monkeypatch):
    """The seconds the client slept, instead of sleeping them."""
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_a_removal_that_raced_in_containerd_is_sent_again_after_a_wait(docker, remove, waits):
    # Docker 28.5's containerd store, two images sharing content removed at once: nothing committed, retry asked.
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    engine.on("DELETE", "/images/app:1", error(500, RACED), times=2)
    result = remove(client)
    assert [call.method for call in engine.requests].count("DELETE") == 3
    assert (result["changed"], result["deleted"], engine.images) == (True, [IMAGE_ID], {})
    # 0.1 s, then 0.2 s, each times a random factor from 0.5 to 1.5.
    assert len(waits) == 2
    assert 0.05 <= waits[0] <= 0.15 and 0.1 <= waits[1] <= 0.3


def test_a_name_whose_image_another_removal_deleted_meanwhile_counts_as_removed(docker, remove):
    # Docker 20.10, two names of one image removed in parallel: both took the last name away, and the later removal,
    # having untagged its name, found the image deleted by the other one.
    client, engine = docker
    engine.add_image("app:1", "app:2", image_id=IMAGE_ID)
    engine.on("DELETE", "/images/app:2", error(500, "unrecognized image ID " + IMAGE_ID))
    result = remove(client, name=["app:1", "app:2"], parallel=1)
    assert [call.path for call in engine.requests if call.method == "DELETE"] == ["/images/app:1", "/images/app:2"]
    assert result["changed"] is True
    assert [item["name"] for item in result["results"]] == ["app:1", "app:2"]
    assert result["diff"][1] == {"before": {"exists": True, "id": IMAGE_ID, "tags": ["app:2"], "digests": []},
                                 "after": {"exists": False}}
    with pytest.raises(NotFound, match="unrecognized image ID " + IMAGE_ID):
        client.remove_image("app:2")


@pytest.mark.parametrize("flavour, version, at_once", NAME_CHANGE_ENGINES)
def test_names_are_removed_at_once_unless_the_engine_loses_concurrent_names(
        engine_release, remove, flavour, version, at_once):
    client, engine = engine_release(flavour, version)
    engine.add_image("app:1", "app:2", "app:3", "app:4", image_id=IMAGE_ID)
    arrivals = engine.count_overlaps("DELETE", "/images/.+")
    result = remove(client, name=["app:1", "app:2", "app:3"], parallel=3)
    assert len(arrivals) == 3
    assert (max(arrivals) > 1) is at_once
    assert [item["name"] for item in result["results"]] == ["app:1", "app:2", "app:3"]
    assert sorted(engine.tags()) == ["app:4"]


@pytest.mark.parametrize("message, attempts", [(RACED, 5), ("conflict: unable to delete (image is in use)", 1)])
def test_a_removal_failing_otherwise_or_racing_every_time_fails(docker, remove, waits, message, attempts):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    engine.on("DELETE", "/images/app:1", error(500, message))
    with pytest.raises(EngineAPIError) as exc:
        remove(client)
    assert exc.value.message == message
    assert [call.method for call in engine.requests].count("DELETE") == attempts
    assert len(waits) == attempts - 1
    assert IMAGE_ID in engine.images


def test_remove_one_of_several_tags_keeps_image(docker, remove):
    client, engine = docker
    engine.add_image("app:1", "app:stable", image_id=IMAGE_ID)
    result = remove(client)
    assert result["untagged"] == ["app:1"]
    assert result["deleted"] == []
    assert result["diff"]["after"] == {"exists": True, "id": IMAGE_ID, "tags": ["app:stable"], "digests": []}


def test_force_and_prune_options(docker, remove):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    remove(client, force=True, prune=False)
    assert engine.last("DELETE").query == {"force": "1", "noprune": "1"}


def test_check_mode_never_removes(docker, remove):
    client, engine = docker
    engine.add_image("app:1", "app:stable", image_id=IMAGE_ID)
    engine.add_image("solo:1", image_id=OTHER_ID)
    before = engine.snapshot()
    result = remove(client, check_mode=True, name=["app:1", "solo:1", "gone:1"])
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True
    assert result["absent"] == ["gone:1"]
    assert result["deleted"] == [] and result["untagged"] == []
    assert "image" not in result
    assert result["diff"][0]["after"] == {"exists": True, "id": IMAGE_ID, "tags": ["app:stable"], "digests": []}
    assert result["diff"][1]["after"] == {"exists": False}
    # The real run agrees with the prediction.
    real = remove(client, name=["app:1", "solo:1", "gone:1"])
    assert [entry["changed"] for entry in real["results"]] == [True, True, False]
    assert real["diff"] == result["diff"]


def test_check_mode_absent_only_is_no_change(docker, remove):
    client, _engine = docker
    result = remove(client, check_mode=True, name=["a:1", "b:2"])
    assert result["changed"] is False
    assert result["absent"] == ["a:1", "b:2"]


def test_remove_by_id(docker, remove):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    result = remove(client, name=[IMAGE_ID])
    assert engine.mutations() == [("DELETE", "/images/" + IMAGE_ID)]
    assert result["deleted"] == [IMAGE_ID]
    assert result["untagged"] == ["app:1"]


def test_check_mode_predicts_the_conflict_of_an_id_with_several_names(docker, remove):
    client, engine = docker
    engine.add_image("app:1", "other:1", image_id=IMAGE_ID)
    with pytest.raises(Conflict) as predicted:
        remove(client, check_mode=True, name=[IMAGE_ID[7:19]])
    with pytest.raises(Conflict) as refused:
        remove(client, name=[IMAGE_ID[7:19]])
    assert str(refused.value) == str(predicted.value) == (
        "conflict: unable to delete {0} (must be forced) - image is referenced in multiple repositories".format(
            IMAGE_ID[7:19]))


def test_engine_conflict_propagates(docker, remove):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    container = engine.add_container("web", "app:1", running=False)
    with pytest.raises(Conflict) as exc:
        remove(client)
    assert str(exc.value) == ('conflict: unable to remove repository reference "app:1" (must force) - container {0} is '
                              "using its referenced image {1}".format(container[:12], IMAGE_ID[7:19]))


def test_podman_answers_read_as_dockers(podman, remove):
    client, engine = podman
    engine.add_image("app:1", image_id=IMAGE_ID, origin="local")
    result = remove(client)
    assert result["untagged"] == ["app:1"]
    assert result["deleted"] == [IMAGE_ID]


def test_invalid_name_rejected_before_engine_calls(docker, remove):
    client, engine = docker
    engine.add_image("app:1", image_id=IMAGE_ID)
    with pytest.raises(InvalidInput):
        remove(client, name=["app:1", "Bad Name"])
    assert engine.requests == []


def test_predicted_after():
    image = {"Id": IMAGE_ID, "RepoTags": ["busybox:latest", "busybox:1.36"]}
    assert predicted_after(image, "busybox") == {"Id": IMAGE_ID, "RepoTags": ["busybox:1.36"]}
    assert predicted_after(image, "docker.io/library/busybox:1.36") == {"Id": IMAGE_ID,
                                                                        "RepoTags": ["busybox:latest"]}
    assert predicted_after({"Id": IMAGE_ID, "RepoTags": ["busybox:latest"]}, "busybox") is None
    assert predicted_after(image, IMAGE_ID) is None


# -- platforms of a multi-platform image (the containerd image store, API 1.50+) ------------------------------

INDEX = sha("index")
PLATFORMS = {"amd64": {"os": "linux", "architecture": "amd64"},
             "arm64": {"os": "linux", "architecture": "arm64", "variant": "v8"}}


class MultiPlatform:
    """app:1 as an index of linux/amd64 and linux/arm64/v8, answering as Docker 28's containerd store does: inspect
    with ``platform`` gives that platform's data or 404 when its content is absent, ``manifests`` lists each with
    ``Available``, and DELETE with ``platforms`` (only with force) deletes their content and keeps the names."""

    def __init__(self, engine, layers=None):
        self.engine = engine
        self.available = {"amd64": True, "arm64": True}
        self.layers = layers or {"amd64": [sha("amd64 layer")], "arm64": [sha("arm64 layer")]}
        engine.add_image("app:1", image_id=INDEX)
        engine.images[INDEX]["Descriptor"] = {"mediaType": "application/vnd.oci.image.index.v1+json",
                                              "digest": INDEX, "size": 506}
        engine.on("GET", "/images/app:1/json", self.inspect)
        engine.on("DELETE", "/images/app:1", self.delete)

    def manifest(self, arch):
        return {"ID": sha(arch), "Available": self.available[arch], "Kind": "image",
                "Descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(arch),
                               "size": 405, "platform": PLATFORMS[arch]}}

    def inspect(self, record):
        image = dict(self.engine.images[INDEX])
        if record.query.get("manifests") == "1":
            image["Manifests"] = [self.manifest(arch) for arch in sorted(PLATFORMS)]
        if record.query.get("platform"):
            arch = json.loads(record.query["platform"])["architecture"]
            if not self.available.get(arch):
                return error(404, "image with reference app:1 was found but does not provide the specified platform "
                                  "(linux/{0})".format(arch))
            image.update(Id=sha(arch), Architecture=arch, RootFS={"Type": "layers", "Layers": self.layers[arch]})
        return Reply(200, image)

    def delete(self, record):
        if record.query.get("force") != "1":
            return error(400, "Content will be removed from all images referencing this variant. Use \u2014-force "
                              "to force delete.")
        deleted = []
        for platform in record.query["platforms"]:
            arch = json.loads(platform)["architecture"]
            self.available[arch] = False
            deleted.append({"Deleted": sha(arch)})
        return Reply(200, deleted)


def test_platform_decision():
    assert decide(None, ["linux/arm64"], []) == (False, "there is no such image")
    assert decide({"Id": INDEX}, ["linux/arm64", "linux/s390x"], ["linux/arm64"]) == (
        True, "the content of linux/arm64 is present")
    assert decide({"Id": INDEX}, ["linux/arm64", "linux/s390x"], []) == (
        False, "the image has no content of linux/arm64, linux/s390x")


def test_shared_layers():
    assert shared_layers({"linux/arm64": ["a", "b"]}, {"linux/amd64": ["c"]}) == []
    assert shared_layers({"linux/arm64": ["a", "b"]}, {"linux/amd64": ["b"]}) == [
        "linux/amd64 shares layers with linux/arm64"]


def test_platform_removed_alone_then_rerun_unchanged(fake_engine, remove):
    client, engine = fake_engine(speaks="1.51")
    image = MultiPlatform(engine)
    result = remove(client, platforms=["linux/arm64", "linux/aarch64", "linux/s390x"], force=True)
    assert engine.mutations() == [("DELETE", "/images/app:1")]
    assert engine.last("DELETE").query == {"force": "1", "noprune": "0", "platforms": [
        json.dumps({"architecture": "arm64", "os": "linux"})]}
    assert image.available == {"amd64": True, "arm64": False}
    assert engine.tags() == {"app:1": INDEX}
    assert (result["changed"], result["deleted"], result["untagged"], result["absent"]) == (
        True, [sha("arm64")], [], [])
    assert result["reasons"] == {"app:1": "the content of linux/arm64 is present"}
    assert result["diff"]["before"]["platforms"] == ["linux/arm64"]
    assert result["diff"]["after"] == dict(result["diff"]["before"], platforms=[])
    assert result["diff"]["after"]["tags"] == ["app:1"]

    again = remove(client, platforms=["linux/arm64"], force=True)
    assert engine.mutations() == [("DELETE", "/images/app:1")]
    assert again["changed"] is False
    assert again["reasons"] == {"app:1": "the image has no content of linux/arm64"}
    assert again["diff"]["before"] == again["diff"]["after"]


def test_platform_check_mode_predicts_and_removes_nothing(fake_engine, remove):
    client, engine = fake_engine(speaks="1.51")
    image = MultiPlatform(engine)
    result = remove(client, check_mode=True, platforms=["linux/amd64"], force=True)
    assert engine.mutations() == []
    assert image.available == {"amd64": True, "arm64": True}
    assert (result["changed"], result["deleted"]) == (True, [])
    assert (result["diff"]["before"]["platforms"], result["diff"]["after"]["platforms"]) == (["linux/amd64"], [])


def test_platform_sharing_layers_with_one_that_stays_is_refused(fake_engine, remove):
    # The engine deletes every blob of a removed platform: a layer amd64 shares would leave amd64 incomplete.
    client, engine = fake_engine(speaks="1.51")
    image = MultiPlatform(engine, layers={"amd64": [sha("busybox")], "arm64": [sha("busybox")]})
    for check_mode in (True, False):
        with pytest.raises(Conflict) as exc:
            remove(client, check_mode=check_mode, platforms=["linux/arm64"], force=True)
        assert str(exc.value) == (
            "removing linux/arm64 would delete layers that stay in use (linux/amd64 shares layers with linux/arm64): "
            "the engine deletes every blob of a removed platform, shared ones included. Nothing was removed; remove "
            "the whole image instead")
    assert engine.mutations() == []
    # Both platforms at once share with none that stays.
    result = remove(client, platforms=["linux/arm64", "linux/amd64"], force=True)
    assert result["changed"] is True
    assert image.available == {"amd64": False, "arm64": False}
    assert engine.tags() == {"app:1": INDEX}


def test_platforms_of_an_absent_image(fake_engine, remove):
    client, engine = fake_engine(speaks="1.51")
    result = remove(client, name=["app:2"], platforms=["linux/arm64"], force=True)
    assert engine.mutations() == []
    assert (result["changed"], result["absent"]) == (False, ["app:2"])


@pytest.mark.parametrize("params, message", [
    ({"platforms": ["linux/arm64"], "force": False},
     "platforms removes the content of those platforms from every image that references it, which the engine does "
     "only when forced: set force: true"),
    ({"platforms": ["linux/arm64", "linux arm"], "force": True},
     "platform 'linux arm' is not os[/arch[/variant]], for example linux/amd64 or linux/arm64/v8"),
    ({"platforms": [""], "force": True},
     "platforms has an empty entry; give os[/arch[/variant]], for example linux/arm64"),
])
def test_bad_platforms_are_refused_before_the_engine_is_asked(params, message):
    with pytest.raises(InvalidInput) as exc:
        validate(params)
    assert str(exc.value) == message


def test_platforms_need_api_1_50(fake_engine, make_task):
    client, engine = fake_engine(speaks="1.49")
    task = make_task(client, OPTIONS, name=["app:1"], platforms=["linux/arm64"], force=True)
    with pytest.raises(UnsupportedApiVersion) as exc:
        check_requirements(client, REQUIRES, task.params, {})
    assert str(exc.value).startswith("platforms needs engine API 1.50 or newer; the engine at tcp://127.0.0.1:2375 is "
                                     "Docker 20.10.24+dfsg1 (API 1.49)")
    assert engine.mutations() == []
