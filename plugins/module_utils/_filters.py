# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters, serialised as the engine's JSON ``map[string][]string``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput

IMAGE_LIST_FILTERS = frozenset(("before", "dangling", "label", "reference", "since"))
IMAGE_PRUNE_FILTERS = frozenset(("dangling", "until", "label", "label!"))
IMAGE_SEARCH_FILTERS = frozenset(("is-automated", "is-official", "stars"))
BUILD_CACHE_FILTERS = frozenset(
    ("until", "id", "parent", "type", "description", "inuse", "shared", "private"))

# Go duration syntax, which the engine accepts for "until": number+unit runs such as 1h30m, 1.5h, 300ms.
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)")
_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> Optional[float]:
    """Seconds of a Go duration string (``1h30m``), or None when it is not one."""
    text = text.strip()
    if text == "0":
        return 0.0
    parts = _DURATION_PART_RE.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def _filter_value(key: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if isinstance(value, Mapping):
        # label: {a: b} means "label=a=b"; a None value means "the key is set".
        return [str(k) if v is None else "{0}={1}".format(k, _scalar(key, v)) for k, v in value.items()]
    if isinstance(value, Iterable):
        values: list[str] = []
        for item in value:
            values.extend(_filter_value(key, item))
        return values
    raise InvalidInput(
        "filter {0!r} has a value of type {1}; expected a string, number, boolean, "
        "list or dict".format(key, type(value).__name__))


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise InvalidInput(
        "filter {0!r} has a nested value of type {1}; expected a string or number".format(
            key, type(value).__name__))


def normalize_filters(filters: Mapping[str, Any] | None, allowed: Iterable[str],
                      aliases: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Return filters as ``{key: [str, ...]}``; raise InvalidInput on unknown keys or bad values."""
    if not filters:
        return {}
    if not isinstance(filters, Mapping):
        raise InvalidInput("filters must be a dictionary, got {0}".format(type(filters).__name__))
    allowed = frozenset(allowed)
    normalized: dict[str, list[str]] = {}
    for key, value in filters.items():
        key = (aliases or {}).get(key, key)
        if key not in allowed:
            raise InvalidInput("unknown filter {0!r}; this operation accepts: {1}".format(
                key, ", ".join(sorted(allowed))))
        if value is None:
            continue
        normalized.setdefault(key, []).extend(_filter_value(key, value))
    return normalized


def serialize_filters(filters: Mapping[str, Any] | None, allowed: Iterable[str],
                      aliases: Mapping[str, str] | None = None) -> str | None:
    """JSON text for the ``filters`` query parameter, or None when there are none."""
    return encode_filters(normalize_filters(filters, allowed, aliases))


def encode_filters(normalized: Mapping[str, list[str]]) -> str | None:
    """JSON text of already normalised filters, or None when there are none."""
    return json.dumps(normalized, sort_keys=True) if normalized else None
