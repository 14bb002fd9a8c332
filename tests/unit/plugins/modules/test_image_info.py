# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_info's reads, against the shared fake engine: it never changes anything."""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, UnsupportedApiVersion
from ansible_collections.moby.engine.plugins.modules.image_info import OPTIONS, REQUIRES, run
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import sha

IMAGE_ID = sha("busybox")


@pytest.fixture
def info(make_task):
    def go(client, **params):
        engine = client.transport.session
        before = engine.snapshot()
        result = run(make_task(client, OPTIONS, **params))
        assert engine.mutations() == []
        assert engine.snapshot() == before
        return result

    return go


def test_inspect_named_images_and_missing(docker, info):
    client, engine = docker
    engine.add_image("busybox:1.36", image_id=IMAGE_ID)
    result = info(client, name=["busybox:1.36", "app:nope"])
    assert result == {"changed": False, "images": [engine.images[IMAGE_ID]], "missing": ["app:nope"]}
    assert engine.paths()[1:] == ["/images/busybox:1.36/json", "/images/app:nope/json"]


def test_list_with_filters(docker, info):
    client, engine = docker
    engine.add_image(image_id=IMAGE_ID, labels={"com.example.release": "stable"})
    engine.add_image("app:1", labels={"com.example.release": "stable"})
    engine.add_image(labels={"com.example.release": "old"})
    result = info(client, filters={"dangling": True, "label": {"com.example.release": "stable"}}, all=True, digests=True)
    assert [image["Id"] for image in result["images"]] == [IMAGE_ID]
    assert result["missing"] == []
    query = engine.last().query
    assert json.loads(query.pop("filters")) == {"dangling": ["true"], "label": ["com.example.release=stable"]}
    assert query == {"all": "1", "digests": "1", "shared-size": "0"}


def test_list_without_filters(docker, info):
    client, engine = docker
    engine.add_image("app:1")
    result = info(client)
    assert [image["RepoTags"] for image in result["images"]] == [["app:1"]]
    assert engine.last().query == {"all": "0", "digests": "0", "shared-size": "0"}


def test_unknown_filter_rejected(docker, info):
    client, engine = docker
    with pytest.raises(InvalidInput) as exc:
        info(client, filters={"until": "24h"})
    assert "'until'" in str(exc.value)
    assert engine.requests == []


def test_history(docker, info):
    client, engine = docker
    engine.add_image("busybox", image_id=IMAGE_ID)
    result = info(client, name=["busybox"], history=True)
    assert [entry["Id"] for entry in result["images"][0]["History"]] == [IMAGE_ID, "<missing>"]
    assert engine.paths()[-1] == "/images/" + IMAGE_ID + "/history"


def test_podman_history_and_names_read_as_dockers(podman, info):
    client, engine = podman
    engine.add_image("busybox", image_id=IMAGE_ID)
    result = info(client, name=["busybox"], history=True)
    assert result["images"][0]["RepoTags"] == ["busybox:latest"]
    assert [entry["Id"] for entry in result["images"][0]["History"]] == [IMAGE_ID, "<missing>"]
    listed = info(client, digests=True)["images"]
    assert listed[0]["RepoTags"] == ["busybox:latest"]
    assert "Names" not in listed[0]


def test_platform_needs_a_name(fake_engine, info):
    client, engine = fake_engine(speaks="1.49")
    with pytest.raises(InvalidInput) as exc:
        info(client, platform="linux/arm64")
    assert str(exc.value) == "platform selects what to inspect in a multi-platform image: give name too"
    engine.add_image("busybox", image_id=IMAGE_ID)
    info(client, name=["busybox"], platform="linux/arm64", manifests=True)
    assert json.loads(engine.last().query["platform"]) == {"os": "linux", "architecture": "arm64"}
    assert engine.last().query["manifests"] == "1"


@pytest.mark.parametrize("option, value, api", [("shared_size", True, "1.42"), ("manifests", True, "1.48"),
                                                ("platform", "linux/amd64", "1.49")])
def test_options_newer_than_the_engine_are_refused(docker, make_task, option, value, api):
    client, engine = docker
    task = make_task(client, OPTIONS, **{option: value, "name": ["busybox"]})
    with pytest.raises(UnsupportedApiVersion) as exc:
        check_requirements(client, REQUIRES, task.params, {})
    assert str(exc.value) == ("{0} needs engine API {1} or newer; the engine at tcp://127.0.0.1:2375 is Docker "
                              "20.10.24+dfsg1 (API 1.41). Leave {0} unset on this engine, or upgrade it".format(
                                  option, api))
    assert engine.calls() == [("GET", "/_ping")]


def test_invalid_name(docker, info):
    client, engine = docker
    with pytest.raises(InvalidInput):
        info(client, name=["Not Valid"])
    assert engine.requests == []


def test_empty_name_list_inspects_nothing(docker, info):
    client, engine = docker
    engine.add_image("app:1")
    assert info(client, name=[]) == {"changed": False, "images": [], "missing": []}
    assert engine.requests == []
