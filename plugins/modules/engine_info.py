#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: engine_info
short_description: Report what a Docker engine is, how it stores and builds images, and optionally its disk usage
version_added: 0.1.0
description:
  - Gathers in one task what a fleet operator wants to know about every engine - product and versions, the API
    version this collection negotiated, operating system, architecture and kernel, storage driver and whether the
    containerd image store is on, the default builder, registry mirrors and insecure registries.
  - Asks the engine C(GET /_ping), C(GET /version) and C(GET /info), plus C(GET /system/df) with O(disk_usage=true).
    Connecting pings the engine once more to negotiate the API version.
  - Returns a compact summary with stable keys in RV(engine), and the engine's own answers in RV(version) and
    RV(info). A key the engine does not send (Podman's service answers some of them differently or not at all) is
    V(null) in RV(engine), never an error.
  - Never changes anything.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.INFO_ATTRIBUTES
options:
  disk_usage:
    description:
      - Add RV(engine.disk_usage), the space images and the build cache use (C(GET /system/df)).
      - Off by default because the engine computes it on every call by walking its image store (and, before API
        1.42, its containers and volumes too), which can take many seconds on a host with many images, volumes or
        a large build cache; the rest of this module answers in milliseconds. From API 1.42 (Docker 23.0) only
        images and the build cache are asked for.
    type: bool
    default: false
notes:
  - RV(engine.default_builder) is the builder the engine advertises to clients in the C(Builder-Version) header of
    C(GET /_ping). Docker 23.0 and later always send it (V(2), BuildKit, on Linux unless C(features.buildkit) is
    V(false) in C(daemon.json); V(1), classic, on Windows). Docker 20.10 sends it only when C(features.buildkit) is
    set in C(daemon.json), and Podman's service sends it empty (Podman builds with Buildah); the module then reports
    V(null). The engine's C(POST /build) itself uses the classic builder unless asked otherwise, which is why
    M(moby.engine.image_build) has its own O(moby.engine.image_build#module:builder) option.
seealso:
  - module: moby.engine.image_info
  - module: moby.engine.build_cache_prune
  - name: Docker Engine API, System
    description: C(GET /version), C(GET /info), C(GET /system/df) and C(GET /_ping).
    link: https://docs.docker.com/reference/api/engine/version/v1.51/#tag/System
"""

EXAMPLES = r"""
- name: Gather what every engine is
  moby.engine.engine_info:
  register: engine_facts

- name: Fail on hosts whose engine speaks an API older than the playbook needs (image_info's platform needs 1.49)
  ansible.builtin.assert:
    that:
      - engine_facts.engine.api_version is version('1.49', '>=')
    fail_msg: >-
      {{ inventory_hostname }} runs {{ engine_facts.engine.product }} {{ engine_facts.engine.version }}
      (API {{ engine_facts.engine.api_version }}); upgrade it to Docker 28.1 or later

- name: Group hosts by image store, to roll out multi-platform images only where the containerd store keeps them
  ansible.builtin.group_by:
    key: "image_store_{{ 'containerd' if engine_facts.engine.containerd_image_store else 'graphdriver' }}"

- name: Report which hosts use the containerd image store
  ansible.builtin.debug:
    msg: "containerd image store on: {{ groups['image_store_containerd'] | default([]) | join(', ') }}"
  run_once: true

- name: Warn where Docker Hub is pulled without the company mirror
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} has no registry mirror"
  when: "'https://mirror.example.com/' not in (engine_facts.engine.registry_mirrors or [])"

- name: Measure images and build cache on a remote engine over TLS
  moby.engine.engine_info:
    disk_usage: true
    docker_host: tcp://engine.example.com:2376
    tls: true
    ca_path: /etc/docker-certs/ca.pem
    client_cert: /etc/docker-certs/cert.pem
    client_key: /etc/docker-certs/key.pem
  register: usage

- name: Prune the build cache where it holds more than 20 GB that could be freed
  moby.engine.build_cache_prune:
    docker_host: tcp://engine.example.com:2376
    tls: true
    ca_path: /etc/docker-certs/ca.pem
    client_cert: /etc/docker-certs/cert.pem
    client_key: /etc/docker-certs/key.pem
  when: (usage.engine.disk_usage.build_cache.reclaimable or 0) > 20 * 1000 ** 3
"""

RETURN = r"""
engine:
  description:
    - A summary with stable keys. A value the engine does not report is V(null).
  returned: always
  type: dict
  contains:
    product:
      description: V(Docker) or V(Podman) (Podman's Docker-compatible service), told by the C(GET /_ping) headers.
      type: str
      returned: always
      sample: Docker
    version:
      description: The engine's version (C(Version) of C(GET /version)); for Podman, Podman's version.
      type: str
      returned: always
      sample: 28.5.1
    api_version:
      description: The newest API version the engine speaks (C(ApiVersion) of C(GET /version)).
      type: str
      returned: always
      sample: "1.51"
    min_api_version:
      description: The oldest API version the engine accepts (C(MinAPIVersion) of C(GET /version)).
      type: str
      returned: always
      sample: "1.24"
    negotiated_api_version:
      description:
        - The API version the modules of this collection speak to this engine; the engine's RV(engine.api_version)
          up to the newest this collection knows, or the O(api_version) given.
      type: str
      returned: always
      sample: "1.51"
    os:
      description: The engine's operating system, as Go names it (C(Os) of C(GET /version), else C(OSType) of C(GET /info)).
      type: str
      returned: always
      sample: linux
    arch:
      description: The engine's architecture, as Go and image platforms name it (C(Arch) of C(GET /version)).
      type: str
      returned: always
      sample: amd64
    kernel_version:
      description: The kernel the engine runs on (C(KernelVersion) of C(GET /version), else of C(GET /info)).
      type: str
      returned: always
      sample: 6.1.0-26-amd64
    operating_system:
      description: The host's operating system by name (C(OperatingSystem) of C(GET /info)).
      type: str
      returned: always
      sample: Debian GNU/Linux 12 (bookworm)
    storage_driver:
      description:
        - The storage driver (C(Driver) of C(GET /info)); with the containerd image store, the containerd snapshotter
          (V(overlayfs)).
      type: str
      returned: always
      sample: overlay2
    containerd_image_store:
      description:
        - Whether the engine keeps images in the containerd image store (the default of new Docker 29 installations,
          an option since Docker 24), which can hold several platforms of an image and image indexes. The engine says
          so in C(DriverStatus) of C(GET /info) with V([driver-type, io.containerd.snapshotter.v1]).
        - V(false) for an engine that does not say so, Podman's service among them.
      type: bool
      returned: always
      sample: false
    default_builder:
      description:
        - V(buildkit) or V(classic), the builder the engine advertises (C(Builder-Version) header of C(GET /_ping),
          V(2) or V(1)); V(null) when it advertises none (Docker 20.10 without C(features.buildkit) in its
          configuration, Podman). See the notes.
      type: str
      returned: always
      sample: buildkit
    registry_mirrors:
      description: The mirrors the engine pulls Docker Hub images through (C(RegistryConfig.Mirrors) of C(GET /info)).
      type: list
      elements: str
      returned: always
      sample: ["https://mirror.example.com/"]
    insecure_registries:
      description:
        - Registries the engine reaches over plain HTTP or without checking their certificate, as C(docker info)
          lists them - the registries of C(RegistryConfig.IndexConfigs) that are not C(Secure) (sorted by name),
          then the address ranges of C(RegistryConfig.InsecureRegistryCIDRs).
      type: list
      elements: str
      returned: always
      sample: ["registry.lan:5000", "127.0.0.0/8"]
    disk_usage:
      description:
        - The space images and the build cache use, in bytes, from C(GET /system/df), counted as C(docker system df)
          counts it.
      type: dict
      returned: when O(disk_usage=true)
      contains:
        images:
          description:
            - C(count) images, C(active) of them used by a container, C(size) the bytes all their layers take
              (C(LayersSize), a layer shared by several images counted once), C(reclaimable) the bytes no
              container's image uses.
          type: dict
          returned: when O(disk_usage=true)
          sample: {"count": 12, "active": 3, "size": 1843200000, "reclaimable": 1210000000}
        build_cache:
          description:
            - C(count) build cache records, C(active) of them in use, C(size) the bytes they take (records shared
              with images not counted), C(reclaimable) the bytes a prune could free. All V(null) when the engine
              sends no C(BuildCache).
          type: dict
          returned: when O(disk_usage=true)
          sample: {"count": 40, "active": 0, "size": 523000000, "reclaimable": 523000000}
version:
  description: The engine's answer to C(GET /version), keys spelled as the engine spells them.
  returned: always
  type: dict
  sample:
    Version: 28.5.1
    ApiVersion: "1.51"
    MinAPIVersion: "1.24"
    Os: linux
    Arch: amd64
    KernelVersion: 6.1.0-26-amd64
    Components: [{Name: Engine, Version: 28.5.1}]
info:
  description: The engine's answer to C(GET /info), keys spelled as the engine spells them.
  returned: always
  type: dict
  sample:
    Driver: overlay2
    DriverStatus: [[Backing Filesystem, extfs], [Supports d_type, "true"]]
    OperatingSystem: Debian GNU/Linux 12 (bookworm)
    RegistryConfig:
      InsecureRegistryCIDRs: [127.0.0.0/8]
      Mirrors: []
"""

from collections.abc import Mapping
from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module
from ansible_collections.moby.engine.plugins.module_utils._engines import uses_containerd_store

OPTIONS = {
    "disk_usage": {"type": "bool", "default": False},
}

BUILDERS = {"1": "classic", "2": "buildkit"}
DISK_USAGE_KINDS = ("image", "build-cache")


def summarize(ping: Mapping[str, str], version: Mapping[str, Any], info: Mapping[str, Any], product: str,
              negotiated: str) -> dict:
    """The stable summary of an engine from its answers; a value it does not send is None."""
    registry = info.get("RegistryConfig") if isinstance(info.get("RegistryConfig"), Mapping) else None
    return {
        "product": product,
        "version": _text(version.get("Version")),
        "api_version": _text(version.get("ApiVersion")),
        "min_api_version": _text(version.get("MinAPIVersion")),
        "negotiated_api_version": negotiated,
        "os": _text(version.get("Os") or info.get("OSType")),
        "arch": _text(version.get("Arch")),
        "kernel_version": _text(version.get("KernelVersion") or info.get("KernelVersion")),
        "operating_system": _text(info.get("OperatingSystem")),
        "storage_driver": _text(info.get("Driver")),
        "containerd_image_store": uses_containerd_store(info),
        "default_builder": BUILDERS.get(str(ping.get("Builder-Version") or "").strip()),
        "registry_mirrors": None if registry is None else [str(url) for url in registry.get("Mirrors") or []],
        "insecure_registries": None if registry is None else insecure_registries(registry),
    }


def insecure_registries(registry: Mapping[str, Any]) -> list:
    """Insecure registries as ``docker info`` lists them: names not Secure, then the CIDRs."""
    indexes = registry.get("IndexConfigs") if isinstance(registry.get("IndexConfigs"), Mapping) else {}
    names = sorted(str(index.get("Name") or name) for name, index in indexes.items()
                   if isinstance(index, Mapping) and index.get("Secure") is False)
    return names + [str(cidr) for cidr in registry.get("InsecureRegistryCIDRs") or []]


def summarize_disk_usage(answer: Mapping[str, Any]) -> dict:
    """Images and build cache of GET /system/df, counted as ``docker system df`` counts them."""
    images = [image for image in answer.get("Images") or [] if isinstance(image, Mapping)]
    layers_size = answer.get("LayersSize")
    used = sum(_int(image.get("Size")) - _int(image.get("SharedSize")) for image in images
               if _int(image.get("Containers")) > 0 and _int(image.get("Size")) >= 0 and _int(image.get("SharedSize")) >= 0)
    image_usage = {
        "count": len(images) if "Images" in answer else None,
        "active": sum(1 for image in images if _int(image.get("Containers")) > 0) if "Images" in answer else None,
        "size": layers_size if isinstance(layers_size, int) else None,
        "reclaimable": max(layers_size - used, 0) if isinstance(layers_size, int) else None,
    }
    if "BuildCache" not in answer:
        return {"images": image_usage, "build_cache": dict.fromkeys(("count", "active", "size", "reclaimable"))}
    records = [record for record in answer.get("BuildCache") or [] if isinstance(record, Mapping)]
    own = [record for record in records if not record.get("Shared")]
    size = sum(_int(record.get("Size")) for record in own)
    return {"images": image_usage, "build_cache": {
        "count": len(records),
        "active": sum(1 for record in records if record.get("InUse")),
        "size": size,
        "reclaimable": size - sum(_int(record.get("Size")) for record in own if record.get("InUse")),
    }}


def _text(value: Any) -> Optional[str]:
    return None if value in (None, "") else str(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mapping(answer: Any) -> dict:
    return dict(answer) if isinstance(answer, Mapping) else {}


def run(task: Task) -> dict:
    """Ask the engine what it is (and optionally what its images use); never changes anything."""
    client = task.client
    ping = client.ping_headers()
    version, info = _mapping(client.version()), _mapping(client.info())
    engine = summarize(ping, version, info, client.engine.identity.product, client.engine.api_version)
    if task.params["disk_usage"]:
        engine["disk_usage"] = summarize_disk_usage(_mapping(client.disk_usage(DISK_USAGE_KINDS)))
    return {"changed": False, "engine": engine, "version": version, "info": info}


def main() -> None:
    run_module(OPTIONS, run, "Gathering engine information failed: {error}")


if __name__ == "__main__":
    main()
