#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: build_cache_prune
short_description: Remove BuildKit build cache from a Docker engine
version_added: 0.1.0
description:
  - Removes build cache records of the engine's BuildKit builder (C(POST /build/prune)).
  - Records in use are never removed. Without O(all), internal and frontend records and records shared with images
    are kept too.
  - The classic builder (the default of Docker 20.10, and of M(moby.engine.image_build)) keeps no build cache records;
    its cache is the intermediate images of earlier builds, which are dangling images once untagged. On an engine
    that only ever used the classic builder this module finds nothing to remove; prune those images instead.
  - Podman's Docker-compatible service has no build cache endpoint; there the module fails, in check mode too, and
    says so.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
attributes:
  check_mode:
    description: Can run in check mode and predict what a real run would report.
    support: full
    details:
      - Nothing is removed; the prediction comes from the engine's build cache listing (C(GET /system/df)).
      - It is exact for the filters C(id), C(parent), C(type), C(description), C(inuse), C(shared) and C(private),
        and approximate with O(keep_storage) or the C(until) filter; RV(approximate) says which.
  diff_mode:
    description: Can show what changes, in diff mode.
    support: none
  action_group:
    description: Takes defaults from C(module_defaults) for the action group.
    support: full
    membership: [moby.engine.engine]
options:
  all:
    description: Also remove internal and frontend records and records shared with images.
    type: bool
    default: false
    aliases: [builder_cache_all]
  keep_storage:
    description: Keep this much cache (the most recently used), in bytes or as V(512m), V(10g).
    type: raw
    aliases: [builder_cache_keep_storage]
  filters:
    description:
      - Which records to remove. Each filter takes one value.
      - C(until) (a duration such as V(24h) or V(1h30m); newer engines also take timestamps) removes records
        not used for that long.
      - C(id) is a regular expression matched against record ids (V(^abc|^def) selects several).
      - C(parent), C(type) (V(regular), V(source.local), V(source.git.checkout), V(exec.cachemount), V(frontend),
        V(internal)) and C(description) must match exactly. Engines reject values containing spaces.
      - C(inuse), C(shared) and C(private) are booleans; C(shared=false) means C(private=true) and the other way
        round; C(inuse=false) is the same as no C(inuse) filter, since records in use are never removed.
    type: dict
    aliases: [builder_cache_filters]
seealso:
  - module: moby.engine.image_build
"""

EXAMPLES = r"""
- name: Remove BuildKit cache not used for a week
  moby.engine.build_cache_prune:
    filters:
      until: 168h

- name: Trim the build cache to 10 GiB, most recently used kept
  moby.engine.build_cache_prune:
    all: true
    keep_storage: 10g

- name: See what removing all private cache would free, without removing it
  moby.engine.build_cache_prune:
    filters:
      private: true
  check_mode: true
  register: cache_prune_preview
"""

RETURN = r"""
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: success
  type: str
  sample: no build cache record matches
caches_deleted:
  description: Ids of the removed cache records (in check mode, of those a real run would remove).
  returned: always
  type: list
  elements: str
  sample: [euynmb6dr0k8tx6oqkubkmxj6, mwpiwqtlsejw7rct1ry6k9sv0]
space_reclaimed:
  description: Bytes freed (in check mode, predicted).
  returned: always
  type: int
  sample: 10297
approximate:
  description: Whether the check mode prediction may differ from a real run (see RV(approximate_because)).
  returned: in check mode
  type: bool
  sample: false
approximate_because:
  description: Why the check mode prediction is approximate.
  returned: in check mode
  type: list
  elements: str
  sample: ["keep_storage depends on the engine's accounting of the total cache size"]
"""

import re
import time
from datetime import datetime
from typing import Optional

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.moby.engine.plugins.module_utils._common import Task, prune_reason, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._files import parse_size
from ansible_collections.moby.engine.plugins.module_utils._filters import (
    BUILD_CACHE_FILTERS,
    encode_filters,
    go_duration,
    normalize_filters,
)

OPTIONS = {
    "all": {"type": "bool", "default": False, "aliases": ["builder_cache_all"]},
    "keep_storage": {"type": "raw", "aliases": ["builder_cache_keep_storage"]},
    "filters": {"type": "dict", "aliases": ["builder_cache_filters"]},
}

FLAG_FILTERS = ("inuse", "shared", "private")
OPPOSITE_FLAG = {"shared": "private", "private": "shared"}
UNPRUNABLE_TYPES = ("internal", "frontend")
# Podman's service has no POST /build/prune (and its /system/df lists no build cache), so check mode
# could only predict a run that then fails: say so in both modes.
REQUIRES = {"*": Requirement(feature="build_cache")}


def engine_filters(filters: dict | None) -> dict[str, list[str]]:
    """Filters as the engine takes them: one value per key, flags as keys without a value."""
    filters = dict(filters or {})
    flags: dict[str, list[str]] = {}
    for key in FLAG_FILTERS:
        if filters.get(key) is None:
            filters.pop(key, None)
            continue
        try:
            wanted = boolean(filters.pop(key), strict=True)
        except TypeError:
            raise InvalidInput("filters.{0} must be true or false".format(key))
        if wanted:
            flags[key] = []
        elif key in OPPOSITE_FLAG:
            flags[OPPOSITE_FLAG[key]] = []
        # inuse=false selects nothing extra: records in use are never pruned anyway.
    normalized = normalize_filters(filters, BUILD_CACHE_FILTERS.difference(FLAG_FILTERS))
    for key, values in normalized.items():
        if len(values) != 1:
            raise InvalidInput("filters.{0} takes exactly one value, got {1}".format(key, len(values)))
    if "id" in normalized:
        # The engine matches id as a regular expression; refuse one it would refuse, in check mode too.
        try:
            re.compile(normalized["id"][0])
        except re.error as exc:
            raise InvalidInput("filters.id {0!r} is not a valid regular expression: {1}".format(normalized["id"][0], exc))
    normalized.update(flags)
    return normalized


def parse_time(text: str | None) -> Optional[float]:
    """Seconds since the epoch of an engine timestamp (RFC 3339 with nanoseconds), or None."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text or "")
    if not match:
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    # Python parses microseconds at most, so the fraction is added separately.
    return datetime.fromisoformat(match.group(1) + zone).timestamp() + float("0." + (match.group(2) or "0"))


class CachePrunePrediction:
    """Which records a prune with these options would remove, from the engine's listing."""

    def __init__(self, records: list[dict], filters: dict[str, list[str]], prune_all: bool,
                 keep_storage: int | None) -> None:
        self.records = records
        self.filters = filters
        self.prune_all = prune_all
        self.keep_storage = keep_storage
        self.approximate_because: list[str] = []
        self.max_last_used: Optional[float] = None
        if "until" in filters:
            seconds = go_duration(filters["until"][0])
            if seconds is None:
                self.approximate_because.append("the until filter is not a duration, so every record was counted")
            else:
                self.approximate_because.append("until is compared with this host's clock, not the engine's")
                self.max_last_used = time.time() - seconds
        if keep_storage is not None:
            self.approximate_because.append("keep_storage depends on the engine's accounting of the total cache size")

    def matches(self, record: dict) -> bool:
        checks = {
            "id": lambda value: re.search(value, record.get("ID") or "") is not None,
            "parent": lambda value: value == record.get("Parent") or value in (record.get("Parents") or []),
            "type": lambda value: value == record.get("Type"),
            "description": lambda value: value == record.get("Description"),
        }
        for key, check in checks.items():
            if key in self.filters and not check(self.filters[key][0]):
                return False
        flags = {"inuse": record.get("InUse"), "shared": record.get("Shared"), "private": not record.get("Shared")}
        if any(key in self.filters and not flags[key] for key in flags):
            return False
        if self.max_last_used is not None:
            last_used = parse_time(record.get("LastUsedAt"))
            if last_used is not None and last_used > self.max_last_used:
                return False
        return True

    def prunable(self, record: dict) -> bool:
        if record.get("InUse"):
            return False
        if not self.prune_all and (record.get("Type") in UNPRUNABLE_TYPES or record.get("Shared")):
            return False
        return self.matches(record)

    def removed(self) -> list[dict]:
        candidates = {record["ID"]: record for record in self.records if self.prunable(record)}
        # A record is only freed once all its children are: drop candidates that keep a child.
        children: dict[str, list[str]] = {}
        for record in self.records:
            for parent in [record.get("Parent")] + list(record.get("Parents") or []):
                if parent:
                    children.setdefault(parent, []).append(record["ID"])
        shrinking = True
        while shrinking:
            kept = [key for key in candidates if any(child not in candidates for child in children.get(key, []))]
            for key in kept:
                del candidates[key]
            shrinking = bool(kept)
        removed = sorted(candidates.values(), key=lambda record: parse_time(record.get("LastUsedAt")) or 0)
        if self.keep_storage is not None:
            # Least recently used go first, until what is left fits into keep_storage.
            total = sum(record.get("Size") or 0 for record in self.records)
            selected = []
            for record in removed:
                if total <= self.keep_storage:
                    break
                selected.append(record)
                total -= record.get("Size") or 0
            removed = selected
        return removed


def read_options(params: dict) -> tuple:
    """(filters as the engine takes them, keep_storage in bytes); raise InvalidInput on bad ones."""
    keep_storage = parse_size(params["keep_storage"], "keep_storage")
    if keep_storage is not None and keep_storage < 0:
        raise InvalidInput("keep_storage must not be negative, got {0}".format(params["keep_storage"]))
    return engine_filters(params["filters"]), keep_storage


def run(task: Task) -> dict:
    client, params, check_mode = task.client, task.params, task.check_mode
    filters, keep_storage = read_options(params)
    if check_mode:
        records = client.system_df().get("BuildCache") or []
        prediction = CachePrunePrediction(records, filters, params["all"], keep_storage)
        removed = prediction.removed()
        return {"changed": bool(removed), "reason": prune_reason(len(removed), check_mode, "build cache record"),
                "caches_deleted": [record["ID"] for record in removed],
                "space_reclaimed": sum(record.get("Size") or 0 for record in removed),
                "approximate": bool(prediction.approximate_because),
                "approximate_because": prediction.approximate_because}
    response = client.prune_build_cache(filters=encode_filters(filters),
                                        all_caches=params["all"] or None, keep_storage=keep_storage)
    deleted = response.get("CachesDeleted") or []
    return {"changed": bool(deleted), "reason": prune_reason(len(deleted), check_mode, "build cache record"),
            "caches_deleted": deleted,
            "space_reclaimed": response.get("SpaceReclaimed") or 0}


def main() -> None:
    run_module(OPTIONS, run, "Pruning the build cache of {docker_host} failed: {error}", requires=REQUIRES,
               requirement_labels={"*": "build_cache_prune"}, validate=read_options)


if __name__ == "__main__":
    main()
