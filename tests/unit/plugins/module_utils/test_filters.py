# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._filters import (
    BUILD_CACHE_FILTERS,
    IMAGE_LIST_FILTERS,
    IMAGE_PRUNE_FILTERS,
    IMAGE_SEARCH_FILTERS,
    go_duration,
    normalize_filters,
    serialize_filters,
)


def test_serialize_is_json_map_of_string_lists():
    text = serialize_filters({"reference": "busybox", "dangling": False}, IMAGE_LIST_FILTERS)
    assert text == '{"dangling": ["false"], "reference": ["busybox"]}'
    assert json.loads(text) == {"dangling": ["false"], "reference": ["busybox"]}


@pytest.mark.parametrize("value, expected", [
    ("busybox", ["busybox"]),
    (True, ["true"]),
    (False, ["false"]),
    (10, ["10"]),
    (1.5, ["1.5"]),
    (["a", "b"], ["a", "b"]),
    (("a", True), ["a", "true"]),
    (["a", ["b", "c"]], ["a", "b", "c"]),
])
def test_scalar_and_list_values(value, expected):
    assert normalize_filters({"reference": value}, IMAGE_LIST_FILTERS) == {"reference": expected}


def test_label_dict():
    assert normalize_filters({"label": {"a": "b"}}, IMAGE_LIST_FILTERS) == {"label": ["a=b"]}
    assert normalize_filters({"label": {"com.example.release": "stable", "beta": None, "n": 3, "ok": True}},
                             IMAGE_LIST_FILTERS) == {"label": ["com.example.release=stable", "beta", "n=3",
                                                               "ok=true"]}


def test_label_list_of_strings_and_dicts():
    assert normalize_filters({"label": ["a=b", {"c": "d"}, "e"]}, IMAGE_LIST_FILTERS) == {
        "label": ["a=b", "c=d", "e"]}


def test_label_negated_key_for_prune():
    assert serialize_filters({"label!": {"keep": "true"}, "until": "24h"}, IMAGE_PRUNE_FILTERS) == (
        '{"label!": ["keep=true"], "until": ["24h"]}')


def test_none_value_skipped_and_empty_filters():
    assert normalize_filters({"reference": None}, IMAGE_LIST_FILTERS) == {}
    assert serialize_filters({"reference": None}, IMAGE_LIST_FILTERS) is None
    assert serialize_filters(None, IMAGE_LIST_FILTERS) is None
    assert serialize_filters({}, IMAGE_LIST_FILTERS) is None


def test_unknown_key_names_key_and_allowed():
    with pytest.raises(InvalidInput) as exc:
        normalize_filters({"dangling": True, "until": "24h"}, IMAGE_LIST_FILTERS)
    assert str(exc.value) == ("unknown filter 'until'; this operation accepts: before, dangling, label, "
                              "reference, since")


@pytest.mark.parametrize("value", [object(), {"a": ["b"]}, {"a": {"b": "c"}}, [object()], [None]])
def test_wrong_value_type(value):
    with pytest.raises(InvalidInput) as exc:
        normalize_filters({"label": value}, IMAGE_LIST_FILTERS)
    assert "'label'" in str(exc.value)


def test_filters_not_a_dict():
    with pytest.raises(InvalidInput) as exc:
        normalize_filters(["dangling=true"], IMAGE_LIST_FILTERS)
    assert str(exc.value) == "filters must be a dictionary, got list"


def test_aliases():
    aliases = {"is_official": "is-official", "is_automated": "is-automated"}
    assert serialize_filters({"is_official": True, "stars": 3}, IMAGE_SEARCH_FILTERS, aliases) == (
        '{"is-official": ["true"], "stars": ["3"]}')
    # An alias and its target merge into one list.
    assert normalize_filters({"is_official": True, "is-official": False}, IMAGE_SEARCH_FILTERS, aliases) == {
        "is-official": ["true", "false"]}


def test_alias_to_unknown_key_is_reported_under_target():
    with pytest.raises(InvalidInput) as exc:
        normalize_filters({"x": 1}, IMAGE_SEARCH_FILTERS, {"x": "nope"})
    assert str(exc.value).startswith("unknown filter 'nope'; this operation accepts: is-automated, is-official, stars")


def test_filter_sets():
    assert IMAGE_LIST_FILTERS == frozenset(("before", "dangling", "label", "reference", "since"))
    assert "inuse" in BUILD_CACHE_FILTERS
    assert "label!" in IMAGE_PRUNE_FILTERS


@pytest.mark.parametrize("text, seconds", [
    ("0", 0.0), ("300ms", 0.3), ("90m", 5400.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("2\u00b5s", 2e-6),
])
def test_go_duration(text, seconds):
    assert go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1d", "10 days", "h", "1h 30m", "2024-06-10"])
def test_go_duration_rejects_what_is_not_one(text):
    assert go_duration(text) is None
