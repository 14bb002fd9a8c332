# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Platform spellings are compared as the engine normalises them (containerd's platforms.Normalize)."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._references import (
    normalize_platform,
    platform_json,
    platform_matches,
    platform_name,
)


def image(arch, variant=None, system="linux"):
    inspect = {"Os": system, "Architecture": arch}
    if variant:
        inspect["Variant"] = variant
    return inspect


@pytest.mark.parametrize("given, expected", [
    ("linux/amd64", ("linux", "amd64", "")),
    ("linux/x86_64", ("linux", "amd64", "")),
    ("linux/x86-64", ("linux", "amd64", "")),
    ("linux/i386", ("linux", "386", "")),
    ("linux/aarch64", ("linux", "arm64", "")),
    ("linux/arm64/v8", ("linux", "arm64", "")),
    ("linux/arm64/8", ("linux", "arm64", "")),
    ("linux/arm", ("linux", "arm", "v7")),
    ("linux/arm/7", ("linux", "arm", "v7")),
    ("linux/armhf", ("linux", "arm", "v7")),
    ("linux/armel", ("linux", "arm", "v6")),
    ("Linux/AMD64", ("linux", "amd64", "")),
])
def test_normalize_platform(given, expected):
    assert normalize_platform(given) == expected


@pytest.mark.parametrize("platform, inspect, matches", [
    ("linux/x86_64", image("amd64"), True),
    ("linux/aarch64", image("arm64", "v8"), True),
    ("linux/arm64/v8", image("arm64"), True),
    ("linux/arm64", image("arm64", "v8"), True),
    ("linux/arm", image("arm", "v7"), True),
    ("linux/arm", image("arm", "v6"), False),
    ("linux/arm/v6", image("arm", "v6"), True),
    ("linux/amd64", image("arm64"), False),
    ("linux", image("arm64"), True),
    ("windows/amd64", image("amd64"), False),
    (None, image("s390x"), True),
])
def test_platform_matches(platform, inspect, matches):
    assert platform_matches(inspect, platform) is matches


@pytest.mark.parametrize("platform, encoded", [
    ("linux/amd64", '{"architecture": "amd64", "os": "linux"}'),
    ("linux/x86_64", '{"architecture": "amd64", "os": "linux"}'),
    ("linux/arm/v7", '{"architecture": "arm", "os": "linux", "variant": "v7"}'),
    ("linux/arm64/v8", '{"architecture": "arm64", "os": "linux"}'),
    (None, None),
])
def test_platform_json(platform, encoded):
    assert platform_json(platform) == encoded


@pytest.mark.parametrize("value, name", [
    ({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64/v8"),
    ({"architecture": "amd64", "os": "linux", "config": {}}, "linux/amd64"),
    # An attestation manifest names unknown/unknown; a descriptor without platform names nothing.
    ({"os": "unknown", "architecture": "unknown"}, None),
    ({}, None),
    (None, None),
    ({"os": "linux", "architecture": 64}, None),
])
def test_platform_name_of_an_oci_platform_or_config(value, name):
    assert platform_name(value) == name
