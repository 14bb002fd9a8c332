# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""build_cache_prune against the shared fake engine: check mode predicts what the engine's prune removes."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._common import check_requirements
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, UnsupportedByEngine
from ansible_collections.moby.engine.plugins.modules.build_cache_prune import OPTIONS, REQUIRES, run


@pytest.fixture
def prune(make_task):
    def go(client, check_mode=False, **params):
        return run(make_task(client, OPTIONS, check_mode, **params))

    return go


@pytest.fixture
def caches(docker):
    client, engine = docker
    engine.add_build_cache("old", size=300, last_used="2026-11-01T10:00:00.5Z")
    engine.add_build_cache("newer", size=200, last_used="2026-11-10T10:00:00Z")
    engine.add_build_cache("used", size=100, in_use=True)
    engine.add_build_cache("shared", size=50, shared=True)
    engine.add_build_cache("frontend", size=10, cache_type="frontend")
    return client, engine


def test_check_mode_predicts_the_prune_and_changes_nothing(caches, prune):
    client, engine = caches
    before = engine.snapshot()
    predicted = prune(client, check_mode=True)
    assert engine.mutations() == []
    assert engine.snapshot() == before
    assert predicted == {"changed": True, "reason": "2 build cache record(s) would be removed",
                         "caches_deleted": ["old", "newer"], "space_reclaimed": 500, "approximate": False,
                         "approximate_because": []}
    result = prune(client)
    assert engine.mutations() == [("POST", "/build/prune")]
    assert result == {"changed": True, "reason": "2 build cache record(s) removed by the engine",
                      "caches_deleted": ["old", "newer"], "space_reclaimed": 500}
    again = prune(client)
    assert again == {"changed": False, "reason": "no build cache record matches", "caches_deleted": [],
                     "space_reclaimed": 0}


def test_all_includes_shared_and_internal_records(caches, prune):
    client, engine = caches
    predicted = prune(client, check_mode=True, all=True)
    result = prune(client, all=True)
    assert sorted(predicted["caches_deleted"]) == sorted(result["caches_deleted"]) == [
        "frontend", "newer", "old", "shared"]
    assert engine.last().query == {"all": "1"}


def test_keep_storage_removes_least_recently_used_first(caches, prune):
    client, engine = caches
    predicted = prune(client, check_mode=True, keep_storage="400B")
    assert predicted["caches_deleted"] == ["old"]
    assert predicted["approximate_because"] == [
        "keep_storage depends on the engine's accounting of the total cache size"]
    result = prune(client, keep_storage="400B")
    assert result["caches_deleted"] == ["old"]
    assert engine.last().query == {"keep-storage": 400}


def test_filters_reach_the_engine(caches, prune):
    client, engine = caches
    result = prune(client, filters={"id": "^ol", "private": True})
    assert result["caches_deleted"] == ["old"]
    assert engine.last().query == {"filters": '{"id": ["^ol"], "private": []}'}


def test_podman_is_refused_in_both_modes(podman, make_task):
    client, engine = podman
    task = make_task(client, OPTIONS, check_mode=True)
    with pytest.raises(UnsupportedByEngine) as exc:
        check_requirements(client, REQUIRES, task.params, {"*": "build_cache_prune"})
    assert str(exc.value) == ("build_cache_prune needs the engine's build cache (POST /build/prune), which the engine "
                              "at tcp://127.0.0.1:2375, Podman 4.3.1 (API 1.41), does not offer. Leave "
                              "build_cache_prune unset on Podman, or use Docker")
    assert engine.mutations() == []


@pytest.mark.parametrize("params, message", [
    ({"keep_storage": -1}, "keep_storage must not be negative, got -1"),
    ({"filters": {"inuse": "sometimes"}}, "filters.inuse must be true or false"),
    ({"filters": {"id": "("}}, "filters.id '(' is not a valid regular expression"),
    ({"filters": {"type": ["regular", "internal"]}}, "filters.type takes exactly one value, got 2"),
])
def test_bad_input_is_refused_before_any_request(caches, prune, params, message):
    client, engine = caches
    with pytest.raises(InvalidInput) as exc:
        prune(client, **params)
    assert message in str(exc.value)
    assert engine.requests == []
