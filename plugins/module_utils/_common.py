# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The options every module shares, and the client and credentials built from them.

The argument specs here match the doc fragments ``moby.engine.engine`` and
``moby.engine.registry`` option for option.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.basic import env_fallback

from ansible_collections.moby.engine.plugins.module_utils._client import (
    DEFAULT_DOCKER_HOST,
    DEFAULT_TIMEOUT,
    EngineClient,
    EngineConfig,
)

ENGINE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "docker_host": {"type": "str", "default": DEFAULT_DOCKER_HOST, "aliases": ["docker_url"],
                    "fallback": (env_fallback, ["DOCKER_HOST"])},
    "tls": {"type": "bool", "default": False, "fallback": (env_fallback, ["DOCKER_TLS"])},
    "validate_certs": {"type": "bool", "aliases": ["tls_verify"],
                       "fallback": (env_fallback, ["DOCKER_TLS_VERIFY"])},
    "ca_path": {"type": "path", "aliases": ["ca_cert", "cacert_path"]},
    "client_cert": {"type": "path", "aliases": ["tls_client_cert", "cert_path"]},
    "client_key": {"type": "path", "aliases": ["tls_client_key", "key_path"]},
    "tls_hostname": {"type": "str"},
    "api_version": {"type": "str", "default": "auto", "aliases": ["docker_api_version"],
                    "fallback": (env_fallback, ["DOCKER_API_VERSION"])},
    "timeout": {"type": "int", "default": DEFAULT_TIMEOUT, "fallback": (env_fallback, ["DOCKER_TIMEOUT"])},
}

REGISTRY_AUTH_OPTIONS: dict[str, dict[str, Any]] = {
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "email": {"type": "str"},
    "serveraddress": {"type": "str"},
    "identitytoken": {"type": "str", "no_log": True},
    "registrytoken": {"type": "str", "no_log": True},
}

REGISTRY_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "registry_auth": {"type": "dict", "options": REGISTRY_AUTH_OPTIONS},
    "docker_config": {"type": "path", "fallback": (env_fallback, ["DOCKER_CONFIG"])},
}

_CERT_FILES = {"ca_path": "ca.pem", "client_cert": "cert.pem", "client_key": "key.pem"}


def argument_spec(own: Mapping[str, dict[str, Any]], registry: bool = False) -> dict[str, dict[str, Any]]:
    """A module's full argument spec: its own options plus the shared ones."""
    spec = dict(ENGINE_ARGUMENT_SPEC)
    if registry:
        spec.update(REGISTRY_ARGUMENT_SPEC)
    spec.update(own)
    return spec


def engine_config(params: Mapping[str, Any]) -> EngineConfig:
    """EngineConfig from module params; certificate paths default from DOCKER_CERT_PATH like the CLI."""
    cert_dir = os.environ.get("DOCKER_CERT_PATH")
    paths = {}
    for option, filename in _CERT_FILES.items():
        paths[option] = params.get(option)
        if not paths[option] and cert_dir and os.path.exists(os.path.join(cert_dir, filename)):
            paths[option] = os.path.join(cert_dir, filename)
    return EngineConfig(
        docker_host=params["docker_host"],
        tls=params["tls"],
        validate_certs=params["validate_certs"],
        ca_path=paths["ca_path"],
        client_cert=paths["client_cert"],
        client_key=paths["client_key"],
        tls_hostname=params.get("tls_hostname"),
        api_version=params["api_version"],
        timeout=params["timeout"],
    )


def connect(params: Mapping[str, Any]) -> EngineClient:
    return EngineClient(engine_config(params))


def image_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """A diff of one image's identity (id and tags), for diff mode."""
    return {"before": _identity(before), "after": _identity(after)}


def _identity(image: Mapping[str, Any] | None) -> dict[str, Any]:
    if not image:
        return {"exists": False}
    return {"exists": True, "id": image.get("Id"), "tags": sorted(image.get("RepoTags") or []),
            "digests": sorted(image.get("RepoDigests") or [])}
