# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_remove's decisions, with the engine client replaced by an in-memory stub."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.moby.engine.plugins.modules.image_remove import predicted_after, remove_images

IMAGE_ID = "sha256:" + "1" * 64
OTHER_ID = "sha256:" + "2" * 64


class StubClient:
    """Names -> ids; remove_image behaves like DELETE /images/{name}."""

    def __init__(self, names, remove_error=None):
        self.names = dict(names)
        self.remove_error = remove_error
        self.calls = []

    def _image(self, image_id):
        return {"Id": image_id, "RepoTags": sorted(n for n, i in self.names.items() if i == image_id),
                "RepoDigests": []}

    def inspect_image(self, name):
        self.calls.append(("inspect_image", name))
        key = name if ":" in name.rpartition("/")[2] or name.startswith("sha256:") else name + ":latest"
        if key in self.names:
            return self._image(self.names[key])
        if name in self.names.values():
            return self._image(name)
        return None

    def remove_image(self, name, force=False, noprune=False):
        self.calls.append(("remove_image", name, force, noprune))
        if self.remove_error is not None:
            raise self.remove_error
        image_id = self.names.get(name, name)
        tags = [n for n, i in self.names.items() if i == image_id]
        if name in self.names and len(tags) > 1:
            del self.names[name]
            return [{"Untagged": name}]
        for tag in tags:
            del self.names[tag]
        return [{"Untagged": tag} for tag in tags] + [{"Deleted": image_id}, {"Deleted": "sha256:" + "9" * 64}]

    def remove_calls(self):
        return [call[1:] for call in self.calls if call[0] == "remove_image"]


def params(**overrides):
    base = {"name": ["app:1"], "force": False, "prune": True}
    base.update(overrides)
    return base


def test_absent_is_ok_and_no_change():
    client = StubClient({})
    result = remove_images(client, params(name=["app:nope"]), check_mode=False)
    assert client.remove_calls() == []
    assert result == {"changed": False, "deleted": [], "untagged": [], "absent": ["app:nope"],
                      "diff": {"before": {"exists": False}, "after": {"exists": False}}}


def test_remove_only_tag_deletes_image():
    client = StubClient({"app:1": IMAGE_ID})
    result = remove_images(client, params(), check_mode=False)
    assert client.remove_calls() == [("app:1", False, False)]
    assert result["changed"] is True
    assert result["untagged"] == ["app:1"]
    assert result["deleted"] == [IMAGE_ID, "sha256:" + "9" * 64]
    assert result["absent"] == []
    assert result["image"] == {"Id": IMAGE_ID, "RepoTags": ["app:1"], "RepoDigests": []}
    assert result["diff"] == {"before": {"exists": True, "id": IMAGE_ID, "tags": ["app:1"], "digests": []},
                              "after": {"exists": False}}


def test_remove_one_of_several_tags_keeps_image():
    client = StubClient({"app:1": IMAGE_ID, "app:stable": IMAGE_ID})
    result = remove_images(client, params(), check_mode=False)
    assert result["untagged"] == ["app:1"]
    assert result["deleted"] == []
    assert result["diff"]["after"] == {"exists": True, "id": IMAGE_ID, "tags": ["app:stable"], "digests": []}


def test_force_and_prune_options():
    client = StubClient({"app:1": IMAGE_ID})
    remove_images(client, params(force=True, prune=False), check_mode=False)
    assert client.remove_calls() == [("app:1", True, True)]


def test_check_mode_never_removes():
    client = StubClient({"app:1": IMAGE_ID, "app:stable": IMAGE_ID, "solo:1": OTHER_ID})
    result = remove_images(client, params(name=["app:1", "solo:1", "gone:1"]), check_mode=True)
    assert client.remove_calls() == []
    assert result["changed"] is True
    assert result["absent"] == ["gone:1"]
    assert result["deleted"] == [] and result["untagged"] == []
    assert "image" not in result
    assert result["diff"][0]["after"] == {"exists": True, "id": IMAGE_ID, "tags": ["app:stable"], "digests": []}
    assert result["diff"][1]["after"] == {"exists": False}
    assert client.names == {"app:1": IMAGE_ID, "app:stable": IMAGE_ID, "solo:1": OTHER_ID}


def test_check_mode_absent_only_is_no_change():
    client = StubClient({})
    result = remove_images(client, params(name=["a:1", "b:2"]), check_mode=True)
    assert result["changed"] is False
    assert result["absent"] == ["a:1", "b:2"]


def test_remove_by_id():
    client = StubClient({"app:1": IMAGE_ID})
    result = remove_images(client, params(name=[IMAGE_ID]), check_mode=False)
    assert client.remove_calls() == [(IMAGE_ID, False, False)]
    assert result["deleted"][0] == IMAGE_ID


def test_engine_conflict_propagates():
    client = StubClient({"app:1": IMAGE_ID}, remove_error=Conflict("image is being used by stopped container"))
    with pytest.raises(Conflict):
        remove_images(client, params(), check_mode=False)


def test_invalid_name_rejected_before_engine_calls():
    client = StubClient({"app:1": IMAGE_ID})
    with pytest.raises(InvalidInput):
        remove_images(client, params(name=["app:1", "Bad Name"]), check_mode=False)
    assert client.calls == []


def test_predicted_after():
    image = {"Id": IMAGE_ID, "RepoTags": ["busybox:latest", "busybox:1.36"]}
    assert predicted_after(image, "busybox") == {"Id": IMAGE_ID, "RepoTags": ["busybox:1.36"]}
    assert predicted_after(image, "docker.io/library/busybox:1.36") == {"Id": IMAGE_ID,
                                                                        "RepoTags": ["busybox:latest"]}
    assert predicted_after({"Id": IMAGE_ID, "RepoTags": ["busybox:latest"]}, "busybox") is None
    assert predicted_after(image, IMAGE_ID) is None
