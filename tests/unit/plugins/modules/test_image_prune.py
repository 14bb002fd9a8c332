# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_prune's filters and runs (the retention policy is in test_image_prune_policy.py)."""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, UnsupportedByEngine
from ansible_collections.moby.engine.plugins.modules.image_prune import (
    OPTIONS,
    REQUIRES,
    labels_match,
    prunable,
    read_filters,
    run,
    until_timestamp,
)
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Reply

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


def old_images(engine):
    """Five images as in a CI host: dangling ones of 1970 (Created 1000) and 2026, used, pinned, unlabelled."""
    old = engine.add_image(labels={"ci": "1"}, created="1970-01-01T00:16:40Z", size=100)
    engine.add_image(labels={"ci": "1"}, size=100)
    used = engine.add_image("used:1", labels={"ci": "1"}, created="1970-01-01T00:16:40Z", size=100)
    engine.add_container("web", "used:1")
    engine.images[used]["RepoTags"] = []
    engine.add_image(labels={"ci": "1", "pin": "y"}, created="1970-01-01T00:16:40Z", size=100)
    engine.add_image(labels={}, created="1970-01-01T00:16:40Z", size=100)
    return old


def test_prunable_applies_containers_until_and_labels(docker):
    client, engine = docker
    old = old_images(engine)
    chosen = prunable(client, read_filters({"until": "2000", "label": "ci", "label!": ["pin=y"]}))
    assert [image["Id"] for image in chosen] == [old]
    assert engine.last("GET", "/images/json").query["filters"] == '{"dangling": ["true"]}'
    # The engine's own prune removes the same image.
    answer = client.prune_images('{"until": ["2000"], "label": ["ci"], "label!": ["pin=y"]}')
    assert answer == {"ImagesDeleted": [{"Deleted": old}], "SpaceReclaimed": 100}


def test_prunable_all_unused_lists_without_dangling_filter(docker):
    client, engine = docker
    tagged = engine.add_image("app:1")
    chosen = prunable(client, read_filters({"dangling": False}))
    assert [image["Id"] for image in chosen] == [tagged]
    assert "filters" not in engine.last("GET", "/images/json").query


@pytest.fixture
def prune(make_task):
    def go(client, check_mode=False, **params):
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


def test_run_prunes_once_and_check_mode_predicts_it(docker, prune):
    client, engine = docker
    old = old_images(engine)
    before = engine.snapshot()
    predicted = prune(client, check_mode=True, filters={"until": "2000", "label": "ci", "label!": ["pin=y"]})
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert (predicted["changed"], predicted["images_deleted"], predicted["space_reclaimed"]) == (True, [old], 100)
    assert predicted["reason"] == "1 image(s) would be removed"
    result = prune(client, filters={"until": "2000", "label": "ci", "label!": ["pin=y"]})
    assert engine.mutations() == [("POST", "/images/prune")]
    assert (result["changed"], result["images_deleted"], result["space_reclaimed"]) == (True, [old], 100)
    assert result["reason"] == "1 image(s) removed by the engine"
    again = prune(client, filters={"until": "2000", "label": "ci", "label!": ["pin=y"]})
    assert (again["changed"], again["reason"]) == (False, "no image matches")


def test_run_on_the_containerd_store_prunes_images_without_the_negated_label_apart(fake_engine, prune):
    # Docker 28.5: only an engine of API 1.42 or later can keep its images in containerd.
    client, engine = fake_engine(speaks="1.51")
    engine.on("GET", "/info", Reply(200, {"Driver": "overlayfs",
                                          "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}))
    old = old_images(engine)
    result = prune(client, filters={"until": "2000", "label": "ci", "label!": ["pin=y"]})
    prunes = [json.loads(call.query["filters"]) for call in engine.requests if call.method == "POST"]
    assert prunes == [{"until": ["2000"], "label": ["ci"], "label!": ["pin=y"]},
                      {"until": ["2000"], "label": ["ci"], "label!": ["pin"]}]
    assert (result["changed"], result["images_deleted"], result["space_reclaimed"]) == (True, [old], 100)


def test_docker_20_10_is_not_asked_for_its_image_store(docker, prune):
    # API 1.41 predates the containerd image store, so GET /info would answer what is already known.
    client, engine = docker
    engine.on("GET", "/info", Reply(200, {"Driver": "overlayfs",
                                          "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}))
    old_images(engine)
    prune(client, filters={"until": "2000", "label!": ["pin=y"]})
    assert "/info" not in engine.paths("GET")
    assert len([call for call in engine.requests if call.method == "POST"]) == 1


def test_run_without_label_not_does_not_ask_for_the_image_store(docker, prune):
    client, engine = docker
    prune(client, filters={"until": "2000"})
    assert "/info" not in engine.paths("GET")


def test_run_all_unused_untags(docker, prune):
    client, engine = docker
    tagged = engine.add_image("app:1")
    result = prune(client, filters={"dangling": False})
    assert result["images_untagged"] == ["app:1"]
    assert result["images_deleted"] == [tagged]


def test_label_not_on_podman_is_refused_before_pruning(podman, make_task):
    client, engine = podman
    engine.add_image(labels={"pin": "y"})
    task = make_task(client, OPTIONS, filters={"label!": "pin=y"})
    with pytest.raises(UnsupportedByEngine) as exc:
        check_requirements(client, REQUIRES, task.params, {"filters.label!": "filter 'label!'"})
    assert str(exc.value).startswith("filter 'label!' needs a prune that honours 'label!' (Podman would delete the "
                                     "images it should keep), which the engine at tcp://127.0.0.1:2375")
    assert engine.mutations() == []


@pytest.mark.parametrize("filters, message", [
    ({"dangling": "maybe"}, "must be true or false"),
    ({"until": ["1h", "2h"]}, "takes one value"),
    ({"until": "soon"}, "is not a Unix timestamp"),
    ({"reference": "app"}, "unknown filter 'reference'"),
])
def test_read_filters_rejects_bad_input(filters, message):
    with pytest.raises(InvalidInput, match=message):
        read_filters(filters)
