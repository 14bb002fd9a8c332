#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_info
short_description: Inspect, list and trace the history of images on a Docker engine
version_added: 0.1.0
description:
  - Inspects the images named in O(name) (C(GET /images/{name}/json)); names the engine does not know are
    returned in RV(missing) instead of failing the task.
  - Without O(name), lists images (C(GET /images/json)), optionally narrowed by O(filters).
  - With O(history=true), adds each image's layer history (C(GET /images/{name}/history)) as C(History).
  - Use it to decide in a playbook whether an image is present, which id a tag points at, or how much space images use.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.INFO_ATTRIBUTES
options:
  name:
    description:
      - Images to inspect, by name (V(repo:tag), V(repo@sha256:...)) or id.
      - A name without a tag means V(latest).
      - When set, O(filters), O(all), O(digests) and O(shared_size) are not used.
    type: list
    elements: str
  filters:
    description:
      - Filters for the listing, as a dictionary; a value may be a string, a number, a boolean, a list
        or, for V(label), a dictionary of label names and values.
      - Keys accepted by the engine are V(before), V(dangling), V(label), V(reference) and V(since).
    type: dict
  all:
    description: List intermediate images too.
    type: bool
    default: false
  digests:
    description: Include C(RepoDigests) in the listing.
    type: bool
    default: false
  shared_size:
    description:
      - Compute C(SharedSize) for each listed image (slower on large stores).
      - Needs engine API 1.42 (Docker 23.0 or later). Older engines, Docker 20.10 and Podman 4 among them,
        ignore it and answer C(SharedSize=-1), so the module fails instead, naming the engine's version.
    type: bool
    default: false
  history:
    description: Add each image's layer history as C(History).
    type: bool
    default: false
  platform:
    description:
      - With O(name), the platform (V(os[/arch[/variant]])) of a multi-platform image to inspect, and whose history
        O(history) reads, instead of the engine's own platform. Spellings are normalised as the engine does
        (V(linux/x86_64) is V(linux/amd64)).
      - Needs engine API 1.49 (Docker 28.1 or later), and an image store that keeps several platforms of an image
        (the containerd image store); older engines fail naming the option and their version.
    type: str
  manifests:
    description:
      - Add C(Manifests), the platform manifests (and attestations) of each image's index, to the inspect data or
        the listing.
      - Needs engine API 1.48 (Docker 28.0 or later) with the containerd image store; older engines fail naming the
        option and their version.
    type: bool
    default: false
seealso:
  - module: moby.engine.image_pull
  - module: moby.engine.image_remove
"""

EXAMPLES = r"""
- name: Inspect one image
  moby.engine.image_info:
    name: registry.example.com/app:1.4
  register: app_image

- name: Fail when the release image is missing
  ansible.builtin.assert:
    that: app_image.missing | length == 0

- name: List images of the app repository with a release label
  moby.engine.image_info:
    filters:
      reference: registry.example.com/app
      label:
        com.example.release: stable
  register: releases

- name: List dangling images
  moby.engine.image_info:
    filters:
      dangling: true

- name: Inspect an image with its layer history on a remote engine over TLS
  moby.engine.image_info:
    name: busybox:1.36
    history: true
    docker_host: tcp://engine.example.com:2376
    tls: true
    ca_path: /etc/docker-certs/ca.pem
    client_cert: /etc/docker-certs/cert.pem
    client_key: /etc/docker-certs/key.pem
"""

RETURN = r"""
images:
  description:
    - With O(name), the inspect data of each image found, in the order named, as the engine returns it
      (keys spelled as the engine spells them).
    - Without O(name), the engine's image summaries (C(Id), C(RepoTags), C(RepoDigests), C(Created), C(Size),
      C(Labels)...).
  returned: always
  type: list
  elements: dict
  sample:
    - Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
      RepoTags: [busybox:1.36]
      RepoDigests: [busybox@sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb]
      Created: "2023-07-18T23:19:33.655005962Z"
      Architecture: amd64
      Os: linux
      Size: 4261574
      Config:
        Cmd: [sh]
        Labels: null
      History:
        - Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
          Created: 1689722373
          CreatedBy: '/bin/sh -c #(nop)  CMD ["sh"]'
          Size: 0
missing:
  description: Names from O(name) that the engine has no image for.
  returned: always
  type: list
  elements: str
  sample: [registry.example.com/app:1.5]
"""

from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._references import parse_image_name, platform_json

OPTIONS = {
    "name": {"type": "list", "elements": "str"},
    "filters": {"type": "dict"},
    "all": {"type": "bool", "default": False},
    "digests": {"type": "bool", "default": False},
    "shared_size": {"type": "bool", "default": False},
    "history": {"type": "bool", "default": False},
    "platform": {"type": "str"},
    "manifests": {"type": "bool", "default": False},
}
# Older engines ignore these parameters (shared-size answers SharedSize -1): refuse rather than mislead.
REQUIRES = {"shared_size": Requirement(api="1.42"), "manifests": Requirement(api="1.48"),
            "platform": Requirement(api="1.49")}


def run(task: Task) -> dict:
    """Inspect the named images, or list images; never changes anything."""
    client, params = task.client, task.params
    missing: list[str] = []
    platform = platform_json(params["platform"])
    if params["platform"] and params["name"] is None:
        raise InvalidInput("platform selects what to inspect in a multi-platform image: give name too")
    if params["name"] is not None:
        images = []
        for name in params["name"]:
            parse_image_name(name)
            image = client.inspect_image(name, platform=platform, manifests=params["manifests"])
            if image is None:
                missing.append(name)
            else:
                images.append(image)
    else:
        # Only a listing takes filters: inspecting, the common case, does not load them (module start cost, issue #16).
        from ansible_collections.moby.engine.plugins.module_utils._filters import IMAGE_LIST_FILTERS, serialize_filters
        images = client.list_images(
            filters=serialize_filters(params["filters"], IMAGE_LIST_FILTERS),
            all_images=params["all"], digests=params["digests"], shared_size=params["shared_size"],
            manifests=params["manifests"])
    if params["history"]:
        for image in images:
            image["History"] = client.image_history(image["Id"], platform=platform)
    return {"changed": False, "images": images, "missing": missing}


def main() -> None:
    run_module(OPTIONS, run, lambda params, error: "Reading {0} failed: {1}".format(
        ", ".join(params["name"] or []) or "the image list", error), requires=REQUIRES)


if __name__ == "__main__":
    main()
