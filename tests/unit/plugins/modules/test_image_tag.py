# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_tag's decisions, with the engine client replaced by an in-memory stub."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, NotFound
from ansible_collections.moby.engine.plugins.modules.image_tag import tag_image, targets

SOURCE_ID = "sha256:" + "1" * 64
OTHER_ID = "sha256:" + "2" * 64


class StubClient:
    """Images by id, and which id each name points at; tag_image moves names like the engine."""

    def __init__(self, names):
        self.names = dict(names)   # "repo:tag" -> image id
        self.calls = []

    def _image(self, image_id):
        return {"Id": image_id, "RepoTags": sorted(n for n, i in self.names.items() if i == image_id)}

    def inspect_image(self, name):
        self.calls.append(("inspect_image", name))
        if name in self.names:
            return self._image(self.names[name])
        if name in self.names.values():
            return self._image(name)
        return None

    def tag_image(self, source, repository, tag):
        self.calls.append(("tag_image", source, repository, tag))
        self.names["{0}:{1}".format(repository, tag)] = source

    def tag_calls(self):
        return [call[1:] for call in self.calls if call[0] == "tag_image"]


def params(**overrides):
    base = {"name": "app:build-412", "repository": ["registry.example.com/team/app:stable"], "tag": "latest",
            "existing": "overwrite"}
    base.update(overrides)
    return base


def test_missing_target_is_tagged():
    client = StubClient({"app:build-412": SOURCE_ID})
    result = tag_image(client, params(), check_mode=False)
    assert client.tag_calls() == [(SOURCE_ID, "registry.example.com/team/app", "stable")]
    assert result["changed"] is True
    assert result["tagged"] == ["registry.example.com/team/app:stable"]
    assert result["kept"] == []
    assert result["image"] == {"Id": SOURCE_ID,
                               "RepoTags": ["app:build-412", "registry.example.com/team/app:stable"]}
    assert result["diff"] == {"before": {"registry.example.com/team/app:stable": None},
                              "after": {"registry.example.com/team/app:stable": SOURCE_ID}}


def test_target_already_on_image_is_no_change():
    client = StubClient({"app:build-412": SOURCE_ID, "registry.example.com/team/app:stable": SOURCE_ID})
    result = tag_image(client, params(), check_mode=False)
    assert client.tag_calls() == []
    assert result["changed"] is False
    assert result["tagged"] == []
    assert result["diff"]["before"] == result["diff"]["after"]


def test_overwrite_moves_tag():
    client = StubClient({"app:build-412": SOURCE_ID, "registry.example.com/team/app:stable": OTHER_ID})
    result = tag_image(client, params(existing="overwrite"), check_mode=False)
    assert client.tag_calls() == [(SOURCE_ID, "registry.example.com/team/app", "stable")]
    assert result["changed"] is True
    assert result["diff"] == {"before": {"registry.example.com/team/app:stable": OTHER_ID},
                              "after": {"registry.example.com/team/app:stable": SOURCE_ID}}


def test_keep_leaves_tag():
    client = StubClient({"app:build-412": SOURCE_ID, "registry.example.com/team/app:stable": OTHER_ID})
    result = tag_image(client, params(existing="keep"), check_mode=False)
    assert client.tag_calls() == []
    assert result["changed"] is False
    assert result["kept"] == ["registry.example.com/team/app:stable"]
    assert result["tagged"] == []


def test_keep_still_adds_missing_targets():
    client = StubClient({"app:build-412": SOURCE_ID, "app:stable": OTHER_ID})
    result = tag_image(client, params(existing="keep", repository=["app:stable", "app:2.3.1"]), check_mode=False)
    assert client.tag_calls() == [(SOURCE_ID, "app", "2.3.1")]
    assert result["kept"] == ["app:stable"]
    assert result["tagged"] == ["app:2.3.1"]
    assert result["changed"] is True


def test_check_mode_never_tags():
    client = StubClient({"app:build-412": SOURCE_ID, "app:stable": OTHER_ID})
    result = tag_image(client, params(repository=["app:stable", "app:new"]), check_mode=True)
    assert client.tag_calls() == []
    assert result["changed"] is True
    assert result["tagged"] == ["app:stable", "app:new"]
    assert result["diff"] == {"before": {"app:stable": OTHER_ID, "app:new": None},
                              "after": {"app:stable": SOURCE_ID, "app:new": SOURCE_ID}}
    assert result["image"] == {"Id": SOURCE_ID, "RepoTags": ["app:build-412"]}


def test_untagged_repository_gets_tag_option():
    client = StubClient({"app:build-412": SOURCE_ID})
    result = tag_image(client, params(repository=["registry.example.com:5000/team/app", "busybox"], tag="2.3.1"),
                       check_mode=False)
    assert client.tag_calls() == [(SOURCE_ID, "registry.example.com:5000/team/app", "2.3.1"),
                                  (SOURCE_ID, "busybox", "2.3.1")]
    assert result["tagged"] == ["registry.example.com:5000/team/app:2.3.1", "busybox:2.3.1"]
    assert ("inspect_image", "busybox:2.3.1") in client.calls


def test_docker_hub_target_uses_familiar_name():
    client = StubClient({"app:build-412": SOURCE_ID})
    tag_image(client, params(repository=["docker.io/library/app:v1", "index.docker.io/team/app:v1"]),
              check_mode=False)
    assert client.tag_calls() == [(SOURCE_ID, "app", "v1"), (SOURCE_ID, "team/app", "v1")]


def test_source_by_id():
    client = StubClient({"app:build-412": SOURCE_ID})
    result = tag_image(client, params(name=SOURCE_ID, repository=["app:v2"]), check_mode=False)
    assert client.tag_calls() == [(SOURCE_ID, "app", "v2")]
    assert result["changed"] is True


def test_missing_source():
    client = StubClient({})
    with pytest.raises(NotFound) as exc:
        tag_image(client, params(name="app:nope"), check_mode=False)
    assert str(exc.value) == "no such image app:nope"
    assert client.tag_calls() == []


def test_digest_target_rejected():
    with pytest.raises(InvalidInput) as exc:
        targets(params(repository=["app@sha256:" + "a" * 64]))
    assert "digest" in str(exc.value)


def test_invalid_target_rejected_before_engine_calls():
    client = StubClient({"app:build-412": SOURCE_ID})
    with pytest.raises(InvalidInput):
        tag_image(client, params(repository=["app:ok", "Bad Name"]), check_mode=False)
    assert client.calls == []
