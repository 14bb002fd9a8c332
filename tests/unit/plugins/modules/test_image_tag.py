# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_tag's decisions and runs, against the shared fake engine."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.modules.image_tag import OPTIONS, run, targets
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import NAME_CHANGE_ENGINES, module_params, sha

SOURCE_ID = sha("source")
OTHER_ID = sha("other")
TARGET = "registry.example.com/team/app:stable"


@pytest.fixture
def tag(make_task):
    def go(client, check_mode=False, **params):
        params.setdefault("name", "app:build-412")
        params.setdefault("repository", [TARGET])
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


def tag_calls(engine):
    return [(request.path, request.query["repo"], request.query["tag"]) for request in engine.requests
            if request.method == "POST"]


def test_missing_target_is_tagged(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    result = tag(client)
    assert tag_calls(engine) == [("/images/" + SOURCE_ID + "/tag", "registry.example.com/team/app", "stable")]
    assert result["changed"] is True
    assert result["tagged"] == [TARGET]
    assert result["kept"] == []
    assert result["image"]["RepoTags"] == ["app:build-412", TARGET]
    assert result["diff"] == {"before": {TARGET: None}, "after": {TARGET: SOURCE_ID}}
    assert result["results"] == [{"name": TARGET, "changed": True, "reason": "the target is missing",
                                  "before": None, "after": SOURCE_ID}]
    again = tag(client)
    assert again["changed"] is False
    assert len(tag_calls(engine)) == 1


def test_target_already_on_image_is_no_change(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", TARGET, image_id=SOURCE_ID)
    result = tag(client)
    assert tag_calls(engine) == []
    assert result["changed"] is False
    assert result["tagged"] == []
    assert result["reason"] == "every target already names the image"
    assert result["diff"]["before"] == result["diff"]["after"]


def test_overwrite_moves_tag(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    engine.add_image(TARGET, image_id=OTHER_ID)
    result = tag(client, existing="overwrite")
    assert tag_calls(engine) == [("/images/" + SOURCE_ID + "/tag", "registry.example.com/team/app", "stable")]
    assert result["changed"] is True
    assert result["diff"] == {"before": {TARGET: OTHER_ID}, "after": {TARGET: SOURCE_ID}}
    assert engine.tags()[TARGET] == SOURCE_ID


def test_keep_leaves_tag(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    engine.add_image(TARGET, image_id=OTHER_ID)
    result = tag(client, existing="keep")
    assert tag_calls(engine) == []
    assert result["changed"] is False
    assert result["kept"] == [TARGET]
    assert result["tagged"] == []


def test_keep_still_adds_missing_targets(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    engine.add_image("app:stable", image_id=OTHER_ID)
    result = tag(client, existing="keep", repository=["app:stable", "app:2.3.1"])
    assert tag_calls(engine) == [("/images/" + SOURCE_ID + "/tag", "app", "2.3.1")]
    assert result["kept"] == ["app:stable"]
    assert result["tagged"] == ["app:2.3.1"]
    assert result["changed"] is True


def test_check_mode_never_tags(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    engine.add_image("app:stable", image_id=OTHER_ID)
    before = engine.snapshot()
    result = tag(client, check_mode=True, repository=["app:stable", "app:new"])
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True
    assert result["tagged"] == ["app:stable", "app:new"]
    assert result["diff"] == {"before": {"app:stable": OTHER_ID, "app:new": None},
                              "after": {"app:stable": SOURCE_ID, "app:new": SOURCE_ID}}
    assert result["image"]["RepoTags"] == ["app:build-412"]
    assert tag(client, repository=["app:stable", "app:new"])["diff"] == result["diff"]


def test_untagged_repository_gets_tag_option(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    result = tag(client, repository=["registry.example.com:5000/team/app", "busybox"], tag="2.3.1")
    assert sorted(tag_calls(engine)) == [("/images/" + SOURCE_ID + "/tag", "busybox", "2.3.1"),
                                         ("/images/" + SOURCE_ID + "/tag", "registry.example.com:5000/team/app",
                                          "2.3.1")]
    assert result["tagged"] == ["registry.example.com:5000/team/app:2.3.1", "busybox:2.3.1"]
    assert "/images/busybox:2.3.1/json" in engine.paths("GET")


def test_docker_hub_target_uses_familiar_name(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    tag(client, repository=["docker.io/library/app:v1", "index.docker.io/team/app:v1"], parallel=1)
    assert tag_calls(engine) == [("/images/" + SOURCE_ID + "/tag", "app", "v1"),
                                 ("/images/" + SOURCE_ID + "/tag", "team/app", "v1")]


def test_source_by_id(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    result = tag(client, name=SOURCE_ID, repository=["app:v2"])
    assert tag_calls(engine) == [("/images/" + SOURCE_ID + "/tag", "app", "v2")]
    assert result["changed"] is True


def test_podman_names_read_as_dockers(podman, tag):
    client, engine = podman
    engine.add_image("app:build-412", image_id=SOURCE_ID, origin="local")
    result = tag(client, repository=["app:v2"])
    assert engine.images[SOURCE_ID]["RepoTags"] == ["localhost/app:build-412", "docker.io/app:v2"]
    assert result["image"]["RepoTags"] == ["app:build-412", "app:v2"]
    assert tag(client, repository=["app:v2"])["changed"] is False


@pytest.mark.parametrize("flavour, version, at_once", NAME_CHANGE_ENGINES)
def test_targets_are_tagged_at_once_unless_the_engine_loses_concurrent_names(
        engine_release, tag, flavour, version, at_once):
    client, engine = engine_release(flavour, version)
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    arrivals = engine.count_overlaps("POST", "/images/[^/]+/tag")
    result = tag(client, repository=["app:v1", "app:v2", "app:v3"], parallel=3)
    assert len(arrivals) == 3
    assert (max(arrivals) > 1) is at_once
    assert result["tagged"] == ["app:v1", "app:v2", "app:v3"]
    assert sorted(familiar for familiar, image_id in engine.tags().items() if image_id == SOURCE_ID) == [
        "app:build-412", "app:v1", "app:v2", "app:v3"]


def test_missing_source(docker, tag):
    client, engine = docker
    with pytest.raises(NotFound) as exc:
        tag(client, name="app:nope")
    assert str(exc.value) == "no such image app:nope"
    assert engine.mutations() == []


def test_digest_target_rejected():
    with pytest.raises(InvalidInput) as exc:
        targets(module_params(OPTIONS, name="app:1", repository=["app@sha256:" + "a" * 64]))
    assert str(exc.value) == "cannot tag as 'app@sha256:{0}': a target carries a tag, not a digest".format("a" * 64)


def test_invalid_target_rejected_before_engine_calls(docker, tag):
    client, engine = docker
    engine.add_image("app:build-412", image_id=SOURCE_ID)
    with pytest.raises(InvalidInput):
        tag(client, repository=["app:ok", "Bad Name"])
    assert engine.requests == []
