# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_remove's decisions and runs, against the shared fake engine (DELETE /images/{name} as dockerd answers)."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.moby.engine.plugins.modules.image_remove import OPTIONS, predicted_after, run
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import sha

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
