#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_search
short_description: Search a registry's index for images, through the Docker engine
version_added: 0.1.0
description:
  - Asks the engine to search an image index (C(GET /images/search)), as C(docker search) does.
  - Without a registry in O(term) the engine searches Docker Hub. With one (V(registry.example.com/word)) it
    asks that registry's v1 search endpoint (C(/v1/search)); the distribution registry (C(registry:2)) does not
    serve that endpoint, so searching it fails.
  - The index cuts the list at O(limit); the engine then applies O(filters), so fewer than O(limit) results can
    come back when filters are given.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.REGISTRY
  - moby.engine.engine.RETRY
  - moby.engine.engine.INFO_ATTRIBUTES
options:
  term:
    description:
      - What to search for, optionally after the index's address, as V(nginx) or V(registry.example.com:5000/nginx).
    type: str
    required: true
  limit:
    description:
      - Largest number of results the index returns, from 1 to 100.
      - The engine's default (25) when not given.
    type: int
  filters:
    description:
      - Conditions results must meet, applied by the engine.
      - V(is-official) (or V(is_official)) and V(is-automated) (or V(is_automated)) take a boolean;
        V(stars) takes the smallest star count.
    type: dict
seealso:
  - module: moby.engine.image_pull
"""

EXAMPLES = r"""
- name: Find official images about nginx with at least 100 stars
  moby.engine.image_search:
    term: nginx
    limit: 10
    filters:
      is_official: true
      stars: 100
  register: nginx_images

- name: Show the names found
  ansible.builtin.debug:
    msg: "{{ nginx_images.results | map(attribute='name') | list }}"

- name: Search a private index that serves the v1 search API, with its credentials
  moby.engine.image_search:
    term: index.example.com/tools
    registry_auth:
      username: reader
      password: "{{ index_password }}"

- name: Search Docker Hub, riding out its rate limit (429) with up to 4 more attempts
  moby.engine.image_search:
    term: postgres
    retries: 4
    retry_delay: 5
"""

RETURN = r"""
results:
  description: The images found, in the index's order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Repository name, as the index gives it.
      type: str
      sample: library/nginx
    description:
      description: The repository's short description.
      type: str
      sample: Official build of Nginx.
    star_count:
      description: Number of stars.
      type: int
      sample: 19876
    is_official:
      description: Whether the repository is an official image.
      type: bool
      sample: true
    is_automated:
      description: Whether the repository is built automatically (a legacy Docker Hub flag).
      type: bool
      sample: false
  sample:
    - name: nginx
      description: Official build of Nginx.
      star_count: 19876
      is_official: true
      is_automated: false
attempts:
  description:
    - The failed attempts of the search, in order; empty when the first one worked. See O(retries).
    - Each entry has C(operation), C(error), C(transient), C(reason), and C(wait) (seconds waited before the next
      attempt) when it was retried.
  returned: always
  type: list
  elements: dict
  sample:
    - operation: search
      error: "toomanyrequests: too many requests"
      transient: true
      reason: the registry limits the request rate (429)
      wait: 1.0
"""

from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._errors import EngineAPIError, InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._filters import IMAGE_SEARCH_FILTERS, serialize_filters
from ansible_collections.moby.engine.plugins.module_utils._references import DEFAULT_DOMAIN, split_domain
from ansible_collections.moby.engine.plugins.module_utils._retry import (
    RETRY_MINIMUMS,
    RETRY_OPTIONS,
    RetryPolicy,
    call_with_retries,
)

OPTIONS = {
    "term": {"type": "str", "required": True},
    "limit": {"type": "int"},
    "filters": {"type": "dict"},
    **RETRY_OPTIONS,
}

# YAML keys with underscores read naturally next to the other options; the engine wants dashes.
FILTER_ALIASES = {"is_official": "is-official", "is_automated": "is-automated"}
RESULT_FIELDS = ("name", "description", "star_count", "is_official", "is_automated")


def run(task: Task) -> dict:
    """Search the index named in the term (Docker Hub by default); never changes anything."""
    client, params = task.client, task.params
    term = params["term"].strip()
    if not term:
        raise InvalidInput("term must not be empty")
    # The engine picks the index the way it splits repository names: a first part with a dot or
    # a colon, or "localhost", names the index; credentials are looked up for that index.
    index = split_domain(term)[0]
    creds = task.keep_secret(Credentials.from_params(params, registries=[index]))
    filters = serialize_filters(params["filters"], IMAGE_SEARCH_FILTERS, FILTER_ALIASES)
    stars = (params["filters"] or {}).get("stars")
    if stars is not None and not str(stars).isdigit():
        # The engine's own refusal ("Invalid filter 'stars=many'") does not say what it wants.
        raise InvalidInput("filter 'stars' must be a whole number (the least number of stars), got {0!r}".format(stars))
    if params["limit"] is not None and not 1 <= params["limit"] <= 100:
        # dockerd refuses such a limit in these words; Podman's service would pass it on to the registry.
        raise InvalidInput("Limit {0} is outside the range of [1, 100]".format(params["limit"]))
    policy, attempts = RetryPolicy.from_params(params), []
    try:
        found = call_with_retries(lambda: client.search_images(term, limit=params["limit"], filters=filters,
                                                               auth_header=creds.header_for(index)),
                                  policy, attempts, "search")
    except EngineAPIError as exc:
        if index != DEFAULT_DOMAIN and "status code 404" in str(exc):
            raise EngineAPIError("{0}: {1} does not serve the v1 search API (/v1/search); a distribution registry "
                                 "(registry:2) has no search, so search an index that has one".format(exc, index),
                                 status=exc.status)
        raise
    return {"changed": False, "results": [{field: item.get(field) for field in RESULT_FIELDS} for item in found],
            "attempts": attempts}


def main() -> None:
    run_module(OPTIONS, run, "Searching for {term!r} failed: {error}", registry=True, minimums=RETRY_MINIMUMS)


if __name__ == "__main__":
    main()
