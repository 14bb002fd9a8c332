# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad input the shared code must refuse before anything reaches the engine (issue 7)."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._auth import DockerConfig
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._references import check_platform, parse_reference


@pytest.mark.parametrize("tag", ["y" * 129, "a b", "x/y", ".hidden", "-dash", ""])
def test_with_tag_refuses_an_invalid_tag(tag):
    with pytest.raises(InvalidInput, match="tag .* for moby/app is invalid: a tag is 1 to 128 characters"):
        parse_reference("moby/app").with_tag(tag)


def test_with_tag_keeps_a_valid_tag():
    assert parse_reference("moby/app").with_tag("v1.2_rc-3").familiar() == "moby/app:v1.2_rc-3"


@pytest.mark.parametrize("platform", ["linux/amd64/v8/extra", "linux//amd64", "linux amd64", "/linux"])
def test_check_platform_refuses_garbage(platform):
    with pytest.raises(InvalidInput, match=r"is not os\[/arch\[/variant\]\]"):
        check_platform(platform)


@pytest.mark.parametrize("platform", [None, "", "linux", "linux/amd64", "linux/arm64/v8", "windows/amd64"])
def test_check_platform_accepts_platforms(platform):
    check_platform(platform)


def test_docker_config_that_is_a_file(tmp_path):
    config_json = tmp_path / "config.json"
    config_json.write_text('{"auths": {}}')
    with pytest.raises(InvalidInput, match="is not a directory; give the directory that holds config.json"):
        DockerConfig(str(config_json)).credentials("registry.example.com")


def test_docker_config_directory_that_does_not_exist_means_no_credentials(tmp_path):
    assert DockerConfig(str(tmp_path / "absent")).credentials("registry.example.com") is None
