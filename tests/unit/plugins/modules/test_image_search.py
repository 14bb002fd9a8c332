# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_search against the shared fake engine: a read, so it never changes anything."""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import EngineAPIError, InvalidInput
from ansible_collections.moby.engine.plugins.modules.image_search import OPTIONS, run

INDEX = [
    {"name": "busybox", "description": "Busybox base image.", "star_count": 3200, "is_official": True,
     "is_automated": False},
    {"name": "team/busybox-tools", "description": "Tools.", "star_count": 3, "is_official": False,
     "is_automated": False},
    {"name": "alpine", "description": "A minimal image.", "star_count": 11000, "is_official": True,
     "is_automated": False},
]


@pytest.fixture
def search(docker, make_task):
    client, engine = docker
    engine.search_index = INDEX

    def go(check_mode=False, **params):
        before = engine.snapshot()
        result = run(make_task(client, OPTIONS, check_mode, registry=True, **params))
        assert engine.mutations() == []
        assert engine.snapshot() == before
        return result

    return go


def test_results_carry_the_documented_fields(docker, search):
    _client, engine = docker
    result = search(term="busybox")
    assert result == {"changed": False, "attempts": [], "results": INDEX[:2]}
    assert engine.last().query == {"term": "busybox"}
    assert engine.last().auth == {}
    assert search(check_mode=True, term="busybox") == result


def test_limit_and_filters_reach_the_engine(docker, search):
    _client, engine = docker
    result = search(term="busybox", limit=1, filters={"is_official": True, "stars": 10})
    assert [item["name"] for item in result["results"]] == ["busybox"]
    query = engine.last().query
    assert json.loads(query.pop("filters")) == {"is-official": ["true"], "stars": ["10"]}
    assert query == {"term": "busybox", "limit": 1}


def test_an_index_without_search_says_so(docker, search):
    _client, _engine = docker
    with pytest.raises(EngineAPIError) as exc:
        search(term="127.0.0.1:5000/team")
    assert str(exc.value) == ("Unexpected status code 404: 127.0.0.1:5000 does not serve the v1 search API "
                              "(/v1/search); a distribution registry (registry:2) has no search, so search an index "
                              "that has one")


@pytest.mark.parametrize("params, message", [
    ({"term": "  "}, "term must not be empty"),
    ({"term": "busybox", "limit": 101}, "Limit 101 is outside the range of [1, 100]"),
    ({"term": "busybox", "filters": {"stars": "many"}},
     "filter 'stars' must be a whole number (the least number of stars), got 'many'"),
])
def test_bad_input_is_refused_before_any_request(docker, search, params, message):
    _client, engine = docker
    with pytest.raises(InvalidInput) as exc:
        search(**params)
    assert str(exc.value) == message
    assert engine.requests == []
