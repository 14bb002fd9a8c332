# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""engine_info's summary of Docker and Podman answers, through the real client and the shared fake engine.

The answers here are shaped like dockerd 20.10 and 28 and Podman 4.3 send them.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.moby.engine.plugins.modules.engine_info import OPTIONS, run, summarize, summarize_disk_usage
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import Reply

DOCKER_20_PING = {"Api-Version": "1.41", "Ostype": "linux", "Server": "Docker/20.10.24+dfsg1 (linux)"}
DOCKER_20_VERSION = {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux",
                     "Arch": "amd64", "KernelVersion": "6.1.0-26-amd64"}
DOCKER_20_INFO = {
    "Driver": "overlay2",
    "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
    "OSType": "linux", "Architecture": "x86_64", "KernelVersion": "6.1.0-26-amd64",
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
    "RegistryConfig": {
        "InsecureRegistryCIDRs": ["127.0.0.0/8"],
        "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}},
        "Mirrors": [],
    },
}

DOCKER_28_PING = {"Api-Version": "1.51", "Builder-Version": "2", "Server": "Docker/28.5.1 (linux)"}
DOCKER_28_VERSION = {"Version": "28.5.1", "ApiVersion": "1.51", "MinAPIVersion": "1.24", "Os": "linux",
                     "Arch": "arm64", "KernelVersion": "6.8.0"}
DOCKER_28_INFO = {
    "Driver": "overlayfs",
    "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
    "OperatingSystem": "Ubuntu 24.04 LTS",
    "RegistryConfig": {
        "InsecureRegistryCIDRs": ["::1/128", "127.0.0.0/8"],
        "IndexConfigs": {
            "docker.io": {"Name": "docker.io", "Mirrors": ["https://mirror.example.com/"], "Secure": True},
            "zeta.lan:5000": {"Name": "zeta.lan:5000", "Mirrors": [], "Secure": False},
            "alpha.lan": {"Name": "alpha.lan", "Mirrors": [], "Secure": False},
        },
        "Mirrors": ["https://mirror.example.com/"],
    },
}

PODMAN_PING = {"Api-Version": "1.41", "Libpod-Api-Version": "4.3.1", "Builder-Version": "",
               "Server": "Libpod/4.3.1 (linux)"}
PODMAN_VERSION = {"Version": "4.3.1", "ApiVersion": "1.41", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64",
                  "KernelVersion": "6.1.0-26-amd64", "Platform": {"Name": "linux/amd64/debian-12"}}
PODMAN_INFO = {"Driver": "overlay", "DriverStatus": [["Backing Filesystem", "extfs"], ["Native Overlay Diff", "true"]],
               "OperatingSystem": "debian", "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": None,
                                                               "Mirrors": None}}


@pytest.fixture
def gather(fake_engine, make_task):
    """gather(ping, version, info, product="Docker", df=None, disk_usage=False, check_mode=False) -> (result, engine):
    engine_info against the shared fake engine answering with these recorded answers."""

    def go(ping, version, info, product="Docker", df=None, disk_usage=False, check_mode=False):
        client, engine = fake_engine("podman" if product == "Podman" else "docker", speaks=ping["Api-Version"])
        engine.on("GET", "/_ping", Reply(200, "OK", ping))
        for path, answer in (("/version", version), ("/info", info), ("/system/df", df)):
            engine.on("GET", path, Reply(200, json.dumps(answer)))
        return run(make_task(client, OPTIONS, check_mode, disk_usage=disk_usage)), engine

    return go


def test_docker_20_10(gather):
    result, engine = gather(DOCKER_20_PING, DOCKER_20_VERSION, DOCKER_20_INFO)
    assert result["changed"] is False
    assert result["engine"] == {
        "product": "Docker", "version": "20.10.24+dfsg1", "api_version": "1.41", "min_api_version": "1.12",
        "negotiated_api_version": "1.41", "os": "linux", "arch": "amd64", "kernel_version": "6.1.0-26-amd64",
        "operating_system": "Debian GNU/Linux 12 (bookworm)", "storage_driver": "overlay2",
        "containerd_image_store": False, "default_builder": None, "registry_mirrors": [],
        "insecure_registries": ["127.0.0.0/8"]}
    assert result["version"] == DOCKER_20_VERSION
    assert result["info"] == DOCKER_20_INFO
    # /system/df is slow on big hosts: asked only with disk_usage.
    assert engine.paths() == ["/_ping", "/_ping", "/version", "/info"]
    assert engine.mutations() == []


def test_docker_28_with_the_containerd_store_buildkit_mirrors_and_insecure_registries(gather):
    engine = gather(DOCKER_28_PING, DOCKER_28_VERSION, DOCKER_28_INFO)[0]["engine"]
    assert engine["containerd_image_store"] is True
    assert engine["storage_driver"] == "overlayfs"
    assert engine["default_builder"] == "buildkit"
    assert engine["registry_mirrors"] == ["https://mirror.example.com/"]
    # As docker info lists them: insecure registry names sorted, then the CIDRs in the engine's order.
    assert engine["insecure_registries"] == ["alpha.lan", "zeta.lan:5000", "::1/128", "127.0.0.0/8"]
    assert (engine["arch"], engine["negotiated_api_version"], engine["min_api_version"]) == ("arm64", "1.51", "1.24")


@pytest.mark.parametrize("header, builder", [("1", "classic"), ("2", "buildkit"), ("", None), (None, None),
                                             ("3", None)])
def test_default_builder_is_what_the_ping_advertises(header, builder):
    ping = dict(DOCKER_20_PING)
    if header is not None:
        ping["Builder-Version"] = header
    assert summarize(ping, DOCKER_20_VERSION, DOCKER_20_INFO, "Docker", "1.41")["default_builder"] == builder


def test_podman(gather):
    engine = gather(PODMAN_PING, PODMAN_VERSION, PODMAN_INFO, product="Podman")[0]["engine"]
    assert engine["product"] == "Podman"
    assert engine["version"] == "4.3.1"
    assert engine["storage_driver"] == "overlay"
    assert engine["containerd_image_store"] is False
    assert engine["default_builder"] is None  # Podman builds with Buildah and advertises no builder
    assert engine["registry_mirrors"] == []
    assert engine["insecure_registries"] == []


@pytest.mark.parametrize("version, info", [
    ({}, {}),
    ({"Version": "4.3.1"}, {"DriverStatus": None, "RegistryConfig": None}),
    ({"Version": None, "Os": ""}, {"DriverStatus": [None, "text", ["driver-type"]], "RegistryConfig": {
        "IndexConfigs": {"x": None, "lan": {"Secure": False}}, "Mirrors": None, "InsecureRegistryCIDRs": None}}),
    (["not", "a", "mapping"], "nor this"),
])
def test_missing_or_odd_keys_are_none_never_a_traceback(gather, version, info):
    engine = gather(PODMAN_PING, version, info, product="Podman", disk_usage=True)[0]["engine"]
    assert engine["product"] == "Podman"
    assert engine["containerd_image_store"] is False
    assert engine["arch"] is None
    assert engine["storage_driver"] is None
    registry = info.get("RegistryConfig") if isinstance(info, dict) else None
    if registry:
        assert engine["insecure_registries"] == ["lan"]  # an index without Name is named by its key
        assert engine["registry_mirrors"] == []
    else:
        assert engine["insecure_registries"] is None
        assert engine["registry_mirrors"] is None
    assert engine["disk_usage"] == {"images": dict.fromkeys(("count", "active", "size", "reclaimable")),
                                    "build_cache": dict.fromkeys(("count", "active", "size", "reclaimable"))}


def test_os_and_kernel_fall_back_to_info():
    engine = summarize({}, {}, {"OSType": "linux", "KernelVersion": "5.15"}, "Docker", "1.41")
    assert (engine["os"], engine["kernel_version"], engine["arch"]) == ("linux", "5.15", None)


def test_check_mode_gives_the_same_answer(gather):
    assert gather(DOCKER_28_PING, DOCKER_28_VERSION, DOCKER_28_INFO, check_mode=True)[0] == gather(
        DOCKER_28_PING, DOCKER_28_VERSION, DOCKER_28_INFO)[0]


def test_disk_usage_asks_only_for_images_and_build_cache_and_counts_as_docker_system_df(gather):
    df = {
        "LayersSize": 1000,
        "Images": [
            {"Id": "a", "Containers": 2, "Size": 300, "SharedSize": 100},
            {"Id": "b", "Containers": 0, "Size": 400, "SharedSize": 100},
            {"Id": "c", "Containers": 1, "Size": 50, "SharedSize": -1},  # not computed: docker system df skips it
        ],
        "BuildCache": [
            {"ID": "1", "Size": 70, "InUse": True, "Shared": False},
            {"ID": "2", "Size": 30, "InUse": False, "Shared": False},
            {"ID": "3", "Size": 500, "InUse": False, "Shared": True},
        ],
    }
    result, engine = gather(DOCKER_28_PING, DOCKER_28_VERSION, DOCKER_28_INFO, df=df, disk_usage=True)
    usage = result["engine"]["disk_usage"]
    assert engine.last().path == "/system/df"
    assert engine.last().query == {"type": ["image", "build-cache"]}
    assert usage == {"images": {"count": 3, "active": 2, "size": 1000, "reclaimable": 800},
                     "build_cache": {"count": 3, "active": 1, "size": 100, "reclaimable": 30}}


def test_disk_usage_of_an_empty_engine_and_of_docker_20_10_null_build_cache():
    assert summarize_disk_usage({"LayersSize": 0, "Images": [], "BuildCache": None}) == {
        "images": {"count": 0, "active": 0, "size": 0, "reclaimable": 0},
        "build_cache": {"count": 0, "active": 0, "size": 0, "reclaimable": 0}}


# -- through the real client, against the shared fake engine ------------------------------------------------
# The fake engine's own state (images, build cache) with recorded /info answers.


@pytest.fixture
def fake(request):
    """(client, engine, make_task) for one flavour of the shared fake engine."""
    def make(flavour, info):
        client, engine = request.getfixturevalue(flavour)
        engine.on("GET", "/info", Reply(200, info))
        return client, engine, request.getfixturevalue("make_task")

    return make


@pytest.mark.parametrize("flavour, info, expected", [
    ("docker", DOCKER_20_INFO, {"product": "Docker", "version": "20.10.24+dfsg1", "min_api_version": "1.12",
                                "storage_driver": "overlay2", "insecure_registries": ["127.0.0.0/8"]}),
    ("podman", PODMAN_INFO, {"product": "Podman", "version": "4.3.1", "min_api_version": "1.24",
                             "storage_driver": "overlay", "insecure_registries": []}),
])
def test_against_the_fake_engine(fake, flavour, info, expected):
    client, engine, make_task = fake(flavour, info)
    result = run(make_task(client, OPTIONS))
    assert {key: result["engine"][key] for key in expected} == expected
    assert result["engine"]["negotiated_api_version"] == result["engine"]["api_version"] == "1.41"
    assert result["engine"]["default_builder"] is None  # neither Docker 20.10 nor Podman advertises a builder
    assert result["engine"]["containerd_image_store"] is False
    assert result["info"] == info
    assert "disk_usage" not in result["engine"]
    # Its own ping (for Builder-Version), the negotiation's, then /version and /info: nothing else, nothing changed.
    assert engine.paths() == ["/_ping", "/_ping", "/version", "/info"]
    assert engine.mutations() == []


@pytest.mark.parametrize("flavour, build_cache", [("docker", {"count": 2, "active": 1, "size": 300, "reclaimable": 100}),
                                                  ("podman", {"count": 0, "active": 0, "size": 0, "reclaimable": 0})])
def test_disk_usage_against_the_fake_engine(fake, flavour, build_cache):
    client, engine, make_task = fake(flavour, DOCKER_20_INFO)
    engine.add_image("busybox:1.36", size=4000)
    engine.add_image("app:1", size=6000)
    engine.add_build_cache("one", size=200, in_use=True)
    engine.add_build_cache("two", size=100)
    usage = run(make_task(client, OPTIONS, disk_usage=True))["engine"]["disk_usage"]
    assert usage == {"images": {"count": 2, "active": 0, "size": 10000, "reclaimable": 10000},
                     "build_cache": build_cache}
    assert engine.last("GET", "/system/df").query == {"type": ["image", "build-cache"]}
    assert engine.mutations() == []
