# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._references import (
    ImageReference,
    looks_like_image_id,
    parse_image_name,
    parse_reference,
    platform_matches,
    split_domain,
)

HEX = "5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb"
DIGEST = "sha256:" + HEX


def test_registry_port_repo_tag_digest():
    ref = parse_reference("registry:5000/repo/name:tag@" + DIGEST)
    assert ref == ImageReference("registry:5000", "repo/name", "tag", DIGEST)
    assert ref.registry == "registry:5000"
    assert ref.repository == "registry:5000/repo/name"
    assert ref.familiar_repository == "registry:5000/repo/name"
    assert ref.familiar() == "registry:5000/repo/name:tag@" + DIGEST


def test_port_is_not_a_tag():
    ref = parse_reference("registry:5000/repo")
    assert ref == ImageReference("registry:5000", "repo", None, None)
    assert ref.familiar_tagged() == "registry:5000/repo:latest"
    assert parse_reference("registry:5000/repo", default_tag="latest").tag == "latest"


def test_localhost():
    assert parse_reference("localhost/x") == ImageReference("localhost", "x")
    assert parse_reference("localhost:5000/x:1") == ImageReference("localhost:5000", "x", "1")


def test_official_image_defaults():
    ref = parse_reference("busybox")
    assert ref == ImageReference("docker.io", "library/busybox", None, None)
    assert ref.repository == "docker.io/library/busybox"
    assert ref.familiar_repository == "busybox"
    assert ref.familiar_tagged() == "busybox:latest"
    assert str(ref) == "busybox"


def test_fully_qualified_official_is_familiar():
    ref = parse_reference("docker.io/library/busybox:1.36")
    assert ref == ImageReference("docker.io", "library/busybox", "1.36")
    assert ref.familiar_repository == "busybox"
    assert ref.familiar() == "busybox:1.36"


def test_nested_library_path_stays():
    assert parse_reference("library/a/b").familiar_repository == "library/a/b"


def test_legacy_index_domain():
    ref = parse_reference("index.docker.io/x/y")
    assert ref == ImageReference("docker.io", "x/y")
    assert ref.familiar() == "x/y"
    assert ref.repository == "docker.io/x/y"
    assert parse_reference("index.docker.io/busybox").familiar_repository == "busybox"


def test_user_repo_on_hub():
    ref = parse_reference("someuser/app:2")
    assert ref == ImageReference("docker.io", "someuser/app", "2")
    assert ref.familiar() == "someuser/app:2"


def test_digest_only():
    ref = parse_reference("alpine@" + DIGEST)
    assert ref == ImageReference("docker.io", "library/alpine", None, DIGEST)
    assert ref.familiar() == "alpine@" + DIGEST
    assert parse_reference("alpine@" + DIGEST, default_tag="latest").tag is None


def test_other_digest_algorithm():
    digest = "sha512:" + "a" * 128
    assert parse_reference("alpine@" + digest).digest == digest


@pytest.mark.parametrize("text", ["Busybox", "library/BusyBox", "docker.io/library/BUSYBOX",
                                  "registry.example.com/Team/app"])
def test_upper_case_rejected(text):
    with pytest.raises(InvalidInput) as exc:
        parse_reference(text)
    assert "must be lower case" in str(exc.value)


@pytest.mark.parametrize("text", ["Team/app", "MyUser/app:1"])
def test_upper_case_first_component_is_a_repository_not_a_registry(text):
    # The engine would take it for a registry host; a user means a Docker Hub repository, so say it is
    # not lower case instead of trying to reach a registry called "Team".
    with pytest.raises(InvalidInput) as exc:
        parse_reference(text)
    assert "must be lower case" in str(exc.value)


def test_upper_case_registry_host_with_dot_is_kept():
    assert parse_reference("Registry.Example.com/app") == ImageReference("Registry.Example.com", "app")


@pytest.mark.parametrize("text", ["busy box", " busybox", "busybox ", "busybox:1\t", "busybox\n"])
def test_white_space_rejected(text):
    with pytest.raises(InvalidInput) as exc:
        parse_reference(text)
    assert "white space" in str(exc.value)


@pytest.mark.parametrize("text", [
    "busybox@sha256:abc",
    "busybox@sha256:" + HEX[:63],
    "busybox@sha256:" + HEX + "0",
    "busybox@md5",
    "busybox@sha256:" + HEX[:-1] + "g",
    "busybox@sha256:" + HEX.upper(),
    "busybox@",
])
def test_bad_digest_rejected(text):
    with pytest.raises(InvalidInput) as exc:
        parse_reference(text)
    assert "digest" in str(exc.value)


def test_tag_length():
    assert parse_reference("busybox:" + "a" * 128).tag == "a" * 128
    with pytest.raises(InvalidInput) as exc:
        parse_reference("busybox:" + "a" * 129)
    assert "invalid tag" in str(exc.value)


@pytest.mark.parametrize("text", ["repo:", "repo:.hidden", "repo:-x", "repo:a/b", "repo:t@g", "repo:caf\u00e9"])
def test_bad_tag_rejected(text):
    with pytest.raises(InvalidInput):
        parse_reference(text)


@pytest.mark.parametrize("text", ["", "/busybox", "busybox/", "a//b", "-busybox", "busy..box", "a:b:c",
                                  "bad_domain.example.com:abc/app", "regi$try.example.com/app"])
def test_malformed_rejected(text):
    with pytest.raises(InvalidInput):
        parse_reference(text)


def test_not_a_string():
    with pytest.raises(InvalidInput):
        parse_reference(None)


def test_name_too_long():
    with pytest.raises(InvalidInput) as exc:
        parse_reference("registry.example.com/" + "a" * 240)
    assert "longer than 255" in str(exc.value)


def test_ipv6_domain():
    ref = parse_reference("[::1]:5000/app:1.0")
    assert ref == ImageReference("[::1]:5000", "app", "1.0")
    assert ref.familiar_repository == "[::1]:5000/app"
    assert parse_reference("[2001:db8::1]/team/app") == ImageReference("[2001:db8::1]", "team/app")


def test_split_domain():
    assert split_domain("busybox") == ("docker.io", "library/busybox")
    assert split_domain("a/b") == ("docker.io", "a/b")
    assert split_domain("example.com/a") == ("example.com", "a")
    assert split_domain("index.docker.io/a") == ("docker.io", "library/a")


def test_with_tag_and_tag_or_default():
    ref = parse_reference("busybox")
    assert ref.tag_or_default() == "latest"
    assert ref.with_tag("1.36").familiar() == "busybox:1.36"
    assert ref.with_tag("1.36").familiar_tagged() == "busybox:1.36"


@pytest.mark.parametrize("text, expected", [
    (DIGEST, True),
    (HEX, True),
    (HEX[:12], True),
    ("sha256:" + HEX[:12], True),
    (HEX[:11], False),
    (HEX.upper(), False),
    ("busybox", False),
    ("sha256:xyz", False),
])
def test_looks_like_image_id(text, expected):
    assert looks_like_image_id(text) is expected


def test_parse_image_name_ids_vs_names():
    assert parse_image_name(DIGEST) is None
    assert parse_image_name(HEX) is None
    assert parse_image_name("busybox") == ImageReference("docker.io", "library/busybox", "latest")
    assert parse_image_name("busybox", default_tag=None).tag is None
    assert parse_image_name("busybox@" + DIGEST) == ImageReference("docker.io", "library/busybox", None, DIGEST)
    # A short hex string is also a valid repository name; the engine resolves either.
    assert parse_image_name(HEX[:12]).familiar_repository == HEX[:12]
    with pytest.raises(InvalidInput):
        parse_image_name("Not A Name")


@pytest.mark.parametrize("platform, expected", [
    (None, True),
    ("", True),
    ("linux", True),
    ("linux/arm64", True),
    ("Linux/ARM64", True),
    ("linux/arm64/v8", True),
    ("linux/arm64/v7", False),
    ("linux/amd64", False),
    ("windows", False),
])
def test_platform_matches(platform, expected):
    image = {"Os": "linux", "Architecture": "arm64", "Variant": "v8"}
    assert platform_matches(image, platform) is expected


def test_platform_matches_without_variant():
    image = {"Os": "linux", "Architecture": "amd64"}
    assert platform_matches(image, "linux/amd64") is True
    assert platform_matches(image, "linux/arm/v7") is False
