# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_export against the shared fake engine: an archive is written only when it would differ."""

from __future__ import annotations

import os

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.modules.image_export import OPTIONS, run
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import sha

APP_ID = sha("app")
DB_ID = sha("db")


@pytest.fixture
def export(make_task, tmp_path):
    def go(client, check_mode=False, **params):
        params.setdefault("path", str(tmp_path / "images.tar"))
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


@pytest.fixture
def images(docker):
    client, engine = docker
    engine.add_image("team/app:1", "team/app:latest", image_id=APP_ID)
    engine.add_image("team/db:2", image_id=DB_ID)
    return client, engine


def test_first_run_writes_second_run_does_not(images, export, tmp_path):
    client, engine = images
    path = str(tmp_path / "images.tar")
    result = export(client, name=["team/app:1", "team/db:2"])
    assert result["changed"] is True
    assert engine.last().url == "http://engine/v1.41/images/get?names=team%2Fapp%3A1&names=team%2Fdb%3A2"
    assert sorted(result["images"], key=lambda image: image["tags"]) == [{"id": APP_ID, "tags": ["team/app:1"]},
                                                                         {"id": DB_ID, "tags": ["team/db:2"]}]
    assert result["size"] == os.path.getsize(path) > 0
    assert result["diff"] == {"before": {"path": path, "images": {}},
                              "after": {"path": path, "images": {APP_ID: ["team/app:1"], DB_ID: ["team/db:2"]}}}
    assert "image" not in result
    written = os.stat(path)
    again = export(client, name=["team/app:1", "team/db:2"])
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]
    assert len([request for request in engine.requests if request.path.endswith("/get")]) == 1
    assert os.stat(path).st_mtime_ns == written.st_mtime_ns


def test_another_tag_rewrites_the_archive(images, export):
    client, engine = images
    export(client, name=["team/app:1"])
    assert engine.last().path == "/images/team/app:1/get"
    result = export(client, name=["team/app:1", "team/app:latest"])
    assert result["changed"] is True
    assert result["images"] == [{"id": APP_ID, "tags": ["team/app:1", "team/app:latest"]}]


def test_by_id_exports_the_image_without_tags(images, export):
    client, _engine = images
    result = export(client, name=[APP_ID[7:19]])
    assert result["images"] == [{"id": APP_ID, "tags": []}]
    assert result["image"]["Id"] == APP_ID


def test_force_always_writes(images, export):
    client, _engine = images
    export(client, name=["team/app:1"])
    assert export(client, name=["team/app:1"], force=True)["changed"] is True


def test_check_mode_writes_nothing(images, export, tmp_path):
    client, engine = images
    result = export(client, check_mode=True, name=["team/app:1"])
    assert result["changed"] is True
    assert not os.path.exists(str(tmp_path / "images.tar"))
    assert [request.path for request in engine.requests if request.path.endswith("/get")] == []
    assert result["diff"]["after"]["images"] == {APP_ID: ["team/app:1"]}


def test_missing_image_leaves_the_path_alone(images, export, tmp_path):
    client, _engine = images
    with pytest.raises(NotFound) as exc:
        export(client, name=["team/app:1", "team/nope:1"])
    assert str(exc.value) == "no such image team/nope:1"
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("name, path, message", [
    ([], None, "name lists no image; give at least one image to export"),
    (["team/app:1"], "dir", "is a directory; give the archive's file name"),
])
def test_bad_input(images, export, tmp_path, name, path, message):
    client, engine = images
    params = {"name": name}
    if path:
        (tmp_path / path).mkdir()
        params["path"] = str(tmp_path / path)
    with pytest.raises(InvalidInput) as exc:
        export(client, **params)
    assert message in str(exc.value)
    assert [request.path for request in engine.requests if request.path.endswith("/get")] == []
