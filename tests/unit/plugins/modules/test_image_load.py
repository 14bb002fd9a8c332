# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_load against the shared fake engine, and the reading of "Loaded image" lines as dockerd and Podman
write them."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._archives import InvalidArchive
from ansible_collections.moby.engine.plugins.module_utils._engines import loaded_names
from ansible_collections.moby.engine.plugins.modules.image_load import OPTIONS, run
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import CREATED, image_tar, sha

IMAGE_ID = "sha256:30eaefb0f15b1b3e852d8643b9d53da5da71ea9bb23d073b4fd88d6befb4ad7d"
OTHER_ID = sha("other")


def test_docker_writes_a_line_per_name():
    log = ["Loaded image: team/app:1", "Loaded image: team/db:2", "Loaded image ID: " + IMAGE_ID]
    assert loaded_names(log) == ["team/app:1", "team/db:2", IMAGE_ID]


def test_podman_writes_qualified_names_on_one_line():
    assert loaded_names(["Loaded image: docker.io/team/app:1,docker.io/library/busybox:1.36"]) == [
        "team/app:1", "busybox:1.36"]


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "images.tar"
    path.write_bytes(image_tar({IMAGE_ID: ({"Created": CREATED, "Config": {"Labels": {"a": "1"}}},
                                           ["team/app:1", "team/db:2"])}))
    return str(path)


@pytest.fixture
def load(make_task):
    def go(client, check_mode=False, **params):
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


@pytest.mark.parametrize("flavour", ["docker", "podman"])
def test_load_then_no_change(fake_engine, load, archive, flavour):
    client, engine = fake_engine(flavour)
    result = load(client, path=archive)
    assert engine.mutations() == [("POST", "/images/load")]
    assert result["changed"] is True
    assert result["loaded"] == ["team/app:1", "team/db:2"]
    assert result["archive_images"] == [{"id": IMAGE_ID, "tags": ["team/app:1", "team/db:2"]}]
    assert result["diff"] == {"before": {IMAGE_ID: None}, "after": {IMAGE_ID: ["team/app:1", "team/db:2"]}}
    assert result["image"]["Id"] == IMAGE_ID
    again = load(client, path=archive)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    assert len(engine.mutations()) == 1


def test_missing_tag_is_loaded_again(docker, load, archive):
    client, engine = docker
    engine.add_image("team/app:1", image_id=IMAGE_ID)
    engine.add_image("team/db:2", image_id=OTHER_ID)
    result = load(client, path=archive)
    assert result["changed"] is True
    assert result["diff"]["before"] == {IMAGE_ID: ["team/app:1"]}
    assert engine.tags() == {"team/app:1": IMAGE_ID, "team/db:2": IMAGE_ID}


def test_check_mode_predicts_and_loads_nothing(docker, load, archive):
    client, engine = docker
    before = engine.snapshot()
    result = load(client, check_mode=True, path=archive)
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True
    assert result["loaded"] == []
    assert result["diff"]["after"] == {IMAGE_ID: ["team/app:1", "team/db:2"]}


def test_not_an_archive_is_refused(docker, load, tmp_path):
    client, engine = docker
    path = tmp_path / "notes.txt"
    path.write_text("not a tar")
    with pytest.raises(InvalidArchive) as exc:
        load(client, path=str(path))
    assert str(exc.value) == ("{0} is not a tar archive (plain, or compressed with gzip, bzip2 or xz); give an archive "
                              "written by docker save or image_export".format(path))
    assert engine.mutations() == []


def test_not_an_archive_is_refused_before_any_request(docker, load, tmp_path):
    client, engine = docker
    path = tmp_path / "notes.txt"
    path.write_text("not a tar")
    with pytest.raises(InvalidArchive):
        load(client, path=str(path))
    assert engine.requests == []
