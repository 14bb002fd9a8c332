# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import time

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.modules.image_prune import (
    labels_match,
    prunable,
    read_filters,
    until_timestamp,
)

NOW = 1718000000.0


@pytest.mark.parametrize("value, expected", [
    ("1700000000", 1700000000.0),
    ("1700000000.5", 1700000000.5),
    ("24h", NOW - 86400),
    ("1h30m", NOW - 5400),
    ("1.5h", NOW - 5400),
    ("300ms", NOW - 0.3),
    ("2024-06-10T06:13:20Z", 1718000000.0),
    ("2024-06-10T08:13:20.123456789+02:00", 1718000000.0),
])
def test_until_timestamp(value, expected):
    assert until_timestamp(value, NOW) == pytest.approx(expected)


def test_until_date_without_zone_is_local_time():
    assert until_timestamp("2024-06-10", NOW) == time.mktime((2024, 6, 10, 0, 0, 0, 0, 0, -1))


@pytest.mark.parametrize("value", ["yesterday", "10 days", "1d", "2024-13-01", ""])
def test_until_rejects_what_the_engine_rejects(value):
    with pytest.raises(InvalidInput, match="is not a Unix timestamp"):
        until_timestamp(value, NOW)


def test_labels_match_all_of_key_and_key_value():
    labels = {"a": "1", "b": "2"}
    assert labels_match([], labels)
    assert labels_match(["a", "b=2"], labels)
    assert not labels_match(["a", "b=3"], labels)
    assert not labels_match(["c"], labels)


class FakeClient:
    """Answers shaped like GET /images/json and GET /containers/json of a real engine."""

    def __init__(self, images, containers):
        self.images, self.containers, self.list_filters = images, containers, None

    def list_images(self, filters=None):
        self.list_filters = filters
        return self.images

    def list_containers(self, all_containers=False):
        assert all_containers
        return self.containers


def summary(image_id, created, labels=None, tags=None):
    return {"Id": image_id, "Created": created, "Labels": labels, "RepoTags": tags or ["<none>:<none>"],
            "Size": 100, "Containers": -1}


def test_prunable_applies_containers_until_and_labels():
    images = [summary("sha256:old", 1000, {"ci": "1"}), summary("sha256:new", 5000, {"ci": "1"}),
              summary("sha256:used", 1000, {"ci": "1"}), summary("sha256:pinned", 1000, {"ci": "1", "pin": "y"}),
              summary("sha256:other", 1000, {})]
    client = FakeClient(images, [{"Id": "c1", "ImageID": "sha256:used"}])
    chosen = prunable(client, read_filters({"until": "2000", "label": "ci", "label!": ["pin=y"]}))
    assert [image["Id"] for image in chosen] == ["sha256:old"]
    assert client.list_filters == '{"dangling": ["true"]}'


def test_prunable_all_unused_lists_without_dangling_filter():
    client = FakeClient([summary("sha256:tagged", 1000, tags=["app:1"])], [])
    chosen = prunable(client, read_filters({"dangling": False}))
    assert [image["Id"] for image in chosen] == ["sha256:tagged"]
    assert client.list_filters is None


@pytest.mark.parametrize("filters, message", [
    ({"dangling": "maybe"}, "must be true or false"),
    ({"until": ["1h", "2h"]}, "takes one value"),
    ({"until": "soon"}, "is not a Unix timestamp"),
    ({"reference": "app"}, "unknown filter 'reference'"),
])
def test_read_filters_rejects_bad_input(filters, message):
    with pytest.raises(InvalidInput, match=message):
        read_filters(filters)
