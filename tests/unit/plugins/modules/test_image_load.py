# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""image_load's reading of the engine's "Loaded image" lines, as dockerd and Podman write them."""

from __future__ import annotations

from ansible_collections.moby.engine.plugins.modules.image_load import loaded_names

IMAGE_ID = "sha256:30eaefb0f15b1b3e852d8643b9d53da5da71ea9bb23d073b4fd88d6befb4ad7d"


def test_docker_writes_a_line_per_name():
    log = ["Loaded image: team/app:1", "Loaded image: team/db:2", "Loaded image ID: " + IMAGE_ID]
    assert loaded_names(log) == ["team/app:1", "team/db:2", IMAGE_ID]


def test_podman_writes_qualified_names_on_one_line():
    assert loaded_names(["Loaded image: docker.io/team/app:1,docker.io/library/busybox:1.36"]) == [
        "team/app:1", "busybox:1.36"]
