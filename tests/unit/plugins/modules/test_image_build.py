# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_build against the shared fake engine: the digest of the build inputs decides a rebuild."""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._build_context import DIGEST_LABEL
from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, StreamError, UnsupportedByEngine
from ansible_collections.moby.engine.plugins.modules.image_build import OPTIONS, REQUIRES, ImageBuilder


@pytest.fixture
def context(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\nRUN true\n")
    (tmp_path / "app.txt").write_text("version 1\n")
    return tmp_path


@pytest.fixture
def build(make_task, context):
    def go(client, check_mode=False, **params):
        params.setdefault("name", "team/app:1")
        params.setdefault("path", str(context))
        task = make_task(client, OPTIONS, check_mode, registry=True, **params)
        return ImageBuilder(task).run()

    return go


def test_first_run_builds_second_does_not(docker, build):
    client, engine = docker
    engine.add_image("busybox:1.36")
    result = build(client, labels={"release": "1"}, build_args={"DEBUG": True})
    request = engine.last("POST")
    assert request.path == "/build"
    assert request.query["t"] == ["team/app:1"]
    assert json.loads(request.query["labels"]) == {"release": "1", DIGEST_LABEL: result["digest"]}
    assert json.loads(request.query["buildargs"]) == {"DEBUG": "true"}
    assert request.headers["Content-Type"] == "application/x-tar"
    assert result["built"] is True and result["changed"] is True
    assert result["context_bytes"] == len(request.body)
    assert result["log"][:2] == ["Step 1/2 : FROM busybox:1.36", "Step 2/2 : RUN true"]
    image = engine.image("team/app:1")
    assert result["image"] == image
    assert result["diff"] == {"before": {"exists": False, "digest": None},
                              "after": {"exists": True, "id": image["Id"], "tags": ["team/app:1"], "digests": [],
                                        "digest": result["digest"]}}
    again = build(client, labels={"release": "1"}, build_args={"DEBUG": True})
    assert again["changed"] is False and again["built"] is False
    assert again["reason"] == "the image already carries the digest of these inputs"
    assert again["diff"]["before"] == again["diff"]["after"]
    assert len(engine.mutations()) == 1


def test_changed_context_rebuilds(docker, build, context):
    client, engine = docker
    engine.add_image("busybox:1.36")
    first = build(client)
    (context / "app.txt").write_text("version 2\n")
    second = build(client)
    assert second["changed"] is True
    assert second["reason"] == "the build inputs changed since the image was built"
    assert second["digest"] != first["digest"]
    assert second["image"]["Id"] != first["image"]["Id"]


def test_missing_base_image_is_pulled_first(docker, build):
    client, engine = docker
    engine.publish("busybox:1.36")
    result = build(client)
    assert engine.mutations() == [("POST", "/images/create"), ("POST", "/build")]
    assert engine.last("POST", "/images/create").query == {"fromImage": "busybox", "tag": "1.36"}
    assert result["changed"] is True


def test_extra_tags_are_set_without_rebuilding(docker, build):
    client, engine = docker
    engine.add_image("busybox:1.36")
    build(client)
    result = build(client, tags=["team/app:latest"])
    assert result["changed"] is True and result["built"] is False
    assert result["tagged"] == ["team/app:latest"]
    assert engine.mutations()[-1] == ("POST", "/images/" + result["image"]["Id"] + "/tag")
    assert engine.tags()["team/app:latest"] == engine.tags()["team/app:1"]


def test_check_mode_builds_and_pulls_nothing(docker, build):
    client, engine = docker
    engine.publish("busybox:1.36")
    before = engine.snapshot()
    result = build(client, check_mode=True)
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert result["changed"] is True and result["built"] is False
    assert result["diff"]["after"] == {"exists": False, "digest": result["digest"]}


def test_failing_step_fails_with_the_log_tail(fake_engine, build, context):
    (context / "Dockerfile").write_text("FROM busybox:1.36\nRUN exit 3\n")
    for flavour, ending in (("docker", "returned a non-zero code: 3"),
                            ("podman", "exit status 3 (the command returned a non-zero code: 3)")):
        client, engine = fake_engine(flavour)
        engine.add_image("busybox:1.36")
        with pytest.raises(StreamError) as exc:
            build(client)
        assert str(exc.value).endswith(ending)
        assert exc.value.log_tail[-1].endswith("2/2 : RUN exit 3")


def test_buildkit_is_refused_on_podman(podman, make_task, context):
    client, engine = podman
    task = make_task(client, OPTIONS, registry=True, name="app:1", path=str(context), builder="buildkit")
    with pytest.raises(UnsupportedByEngine) as exc:
        check_requirements(client, REQUIRES, task.params, {})
    assert str(exc.value).startswith("builder=buildkit needs BuildKit, which the engine at tcp://127.0.0.1:2375, "
                                     "Podman 4.3.1 (API 1.41), does not offer")
    assert engine.mutations() == []


@pytest.mark.parametrize("params, message", [
    ({"name": "team/app@sha256:" + "a" * 64}, "carries a digest; a build can only be named with a tag"),
    ({"name": "team/app:1", "tag": "2"}, "name 'team/app:1' carries the tag '1' but tag is '2'; give the tag once"),
    ({"memory": -5}, "memory must not be negative, got -5"),
    ({"labels": {"a": {"nested": 1}}}, "labels.a must be a string or a number, got dict"),
    ({"registry_auth": {"username": "u", "password": "p"}}, "registry_auth has no serveraddress"),
])
def test_bad_input_is_refused_before_any_request(docker, build, params, message):
    client, engine = docker
    with pytest.raises(InvalidInput) as exc:
        build(client, **params)
    assert message in str(exc.value)
    assert engine.requests == []
