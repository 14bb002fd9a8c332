# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures every unit test shares: the fake engine behind a real EngineClient, and tasks for modules."""

from __future__ import annotations

import pytest

from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient
from ansible_collections.moby.engine.plugins.module_utils._common import Task
from ansible_collections.moby.engine.plugins.module_utils._transport import EngineConfig, Transport
from ansible_collections.moby.engine.tests.unit.plugins import fake_engine as fake_engine_module
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import TCP_HOST, FakeEngine, module_params


@pytest.fixture
def fake_engine(monkeypatch):
    """make(flavour="docker", speaks="1.41", **EngineConfig fields) -> (EngineClient, FakeEngine).

    The client is the real one; only its HTTP session is the fake engine (every thread shares it)."""

    def make(flavour="docker", speaks="1.41", max_api_version=None, **config):
        config.setdefault("docker_host", TCP_HOST)
        engine_config = EngineConfig(**config)
        engine = FakeEngine(flavour, speaks, max_api_version, base_url=engine_config.base_url)
        monkeypatch.setattr(Transport, "_new_session", lambda self: engine)
        return EngineClient(engine_config), engine

    return make


@pytest.fixture
def engine_release(fake_engine, monkeypatch):
    """make(flavour, podman_version=None) -> (EngineClient, FakeEngine) of that Podman release (4.3.1 unless given)."""

    def make(flavour, podman_version=None):
        if podman_version:
            monkeypatch.setattr(fake_engine_module, "PODMAN_VERSION", podman_version)
        return fake_engine(flavour)

    return make


@pytest.fixture
def docker(fake_engine):
    """(client, engine) for Docker 20.10 (API 1.41)."""
    return fake_engine()


@pytest.fixture
def podman(fake_engine):
    """(client, engine) for Podman 4.3.1's service (API 1.41)."""
    return fake_engine("podman")


@pytest.fixture
def make_task():
    """make_task(client, options, check_mode=False, registry=False, **params) -> Task with validated params."""

    def make(client, options, check_mode=False, registry=False, **overrides):
        if registry:
            overrides.setdefault("docker_config", "/nonexistent-docker-config")
        params = module_params(options, registry=registry, docker_host=client.config.docker_host, **overrides)
        return Task(client, params, check_mode)

    return make
