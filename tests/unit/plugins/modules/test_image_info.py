# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_info's reads, with the engine client replaced by an in-memory stub."""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.modules.image_info import gather

IMAGE_ID = "sha256:" + "1" * 64


class StubClient:
    def __init__(self, images=None, listing=None):
        self.images = dict(images or {})
        self.listing = list(listing or [])
        self.calls = []

    def inspect_image(self, name):
        self.calls.append(("inspect_image", name))
        image = self.images.get(name)
        return dict(image) if image else None

    def list_images(self, filters=None, all_images=False, digests=False, shared_size=False):
        self.calls.append(("list_images", filters, all_images, digests, shared_size))
        return [dict(image) for image in self.listing]

    def image_history(self, name):
        self.calls.append(("image_history", name))
        return [{"Id": name, "CreatedBy": "/bin/sh -c #(nop)  CMD [\"sh\"]", "Size": 0}]

    def __getattr__(self, name):  # any other call would be a change or an unexpected read
        raise AssertionError("image_info called " + name)


def params(**overrides):
    base = {"name": None, "filters": None, "all": False, "digests": False, "shared_size": False, "history": False}
    base.update(overrides)
    return base


def test_inspect_named_images_and_missing():
    client = StubClient(images={"busybox:1.36": {"Id": IMAGE_ID, "RepoTags": ["busybox:1.36"]}})
    result = gather(client, params(name=["busybox:1.36", "app:nope"]))
    assert result == {"changed": False, "images": [{"Id": IMAGE_ID, "RepoTags": ["busybox:1.36"]}],
                      "missing": ["app:nope"]}
    assert client.calls == [("inspect_image", "busybox:1.36"), ("inspect_image", "app:nope")]


def test_list_with_filters():
    client = StubClient(listing=[{"Id": IMAGE_ID}])
    result = gather(client, params(filters={"dangling": True, "label": {"com.example.release": "stable"}},
                                   all=True, digests=True))
    assert result == {"changed": False, "images": [{"Id": IMAGE_ID}], "missing": []}
    (_method, filters, all_images, digests, shared_size), = client.calls
    assert json.loads(filters) == {"dangling": ["true"], "label": ["com.example.release=stable"]}
    assert (all_images, digests, shared_size) == (True, True, False)


def test_list_without_filters():
    client = StubClient()
    gather(client, params())
    assert client.calls == [("list_images", None, False, False, False)]


def test_unknown_filter_rejected():
    client = StubClient()
    with pytest.raises(InvalidInput) as exc:
        gather(client, params(filters={"until": "24h"}))
    assert "'until'" in str(exc.value)
    assert client.calls == []


def test_history():
    client = StubClient(images={"busybox": {"Id": IMAGE_ID}})
    result = gather(client, params(name=["busybox"], history=True))
    assert result["images"][0]["History"][0]["Id"] == IMAGE_ID
    assert ("image_history", IMAGE_ID) in client.calls


def test_invalid_name():
    with pytest.raises(InvalidInput):
        gather(StubClient(), params(name=["Not Valid"]))


def test_empty_name_list_inspects_nothing():
    client = StubClient(listing=[{"Id": IMAGE_ID}])
    assert gather(client, params(name=[])) == {"changed": False, "images": [], "missing": []}
    assert client.calls == []
