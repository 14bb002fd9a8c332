# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.moby.engine.plugins.module_utils import _common
from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient, EngineConfig
from ansible_collections.moby.engine.plugins.module_utils._common import (
    ENGINE_ARGUMENT_SPEC,
    REGISTRY_ARGUMENT_SPEC,
    REGISTRY_AUTH_OPTIONS,
    argument_spec,
    connect,
    engine_config,
    image_diff,
)

ENGINE_ENV = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_HOSTNAME", "DOCKER_TLS", "DOCKER_TLS_VERIFY", "DOCKER_API_VERSION", "DOCKER_TIMEOUT",
              "DOCKER_CERT_PATH", "DOCKER_CONFIG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENGINE_ENV:
        monkeypatch.delenv(name, raising=False)


def validated(spec, params):
    result = ArgumentSpecValidator(spec).validate(params)
    assert result.errors.errors == []
    return result


def default_params(**overrides):
    params = validated(argument_spec({}), {}).validated_parameters
    params.update(overrides)
    return params


def test_defaults_through_argument_validation():
    params = default_params()
    # docker_host has no default, so that an address given wins over DOCKER_CONTEXT and the current context.
    assert params == {"docker_host": None, "docker_context": None, "tls": False, "validate_certs": None,
                      "ca_path": None, "client_cert": None, "client_key": None, "tls_hostname": None,
                      "api_version": "auto", "timeout": 60, "ssh_config": None}
    assert engine_config(params) == EngineConfig()


def test_env_fallbacks(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", "tcp://engine.example.com:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_API_VERSION", "1.42")
    monkeypatch.setenv("DOCKER_TIMEOUT", "7")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    params = validated(argument_spec({}, registry=True), {}).validated_parameters
    config = engine_config(params)
    assert config.docker_host == "tcp://engine.example.com:2376"
    assert config.validate_certs is True
    assert config.use_tls is True
    assert config.api_version == "1.42"
    assert config.timeout == 7
    assert params["docker_config"] == str(tmp_path)


def test_aliases_resolve():
    params = validated(argument_spec({}), {"docker_url": "tcp://h:1", "tls_verify": True, "cacert_path": "/ca",
                                           "cert_path": "/c", "key_path": "/k", "docker_api_version": "1.41"}
                       ).validated_parameters
    assert (params["docker_host"], params["validate_certs"], params["ca_path"], params["client_cert"],
            params["client_key"], params["api_version"]) == ("tcp://h:1", True, "/ca", "/c", "/k", "1.41")


def test_cert_path_defaults(monkeypatch, tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    config = engine_config(default_params(docker_host="tcp://h:2376", tls=True))
    assert config.ca_path == os.path.join(str(tmp_path), "ca.pem")
    assert config.client_cert == os.path.join(str(tmp_path), "cert.pem")
    assert config.client_key == os.path.join(str(tmp_path), "key.pem")


def test_cert_path_only_existing_files(monkeypatch, tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    # As the docker CLI, the files of DOCKER_CERT_PATH are used only with TLS.
    assert engine_config(default_params()).ca_path is None
    config = engine_config(default_params(tls=True))
    assert config.ca_path == os.path.join(str(tmp_path), "ca.pem")
    assert config.client_cert is None
    assert config.client_key is None


def test_explicit_cert_options_win(monkeypatch, tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    config = engine_config(default_params(ca_path="/mine/ca.pem", client_cert="/mine/c.pem", tls=True))
    assert config.ca_path == "/mine/ca.pem"
    assert config.client_cert == "/mine/c.pem"
    assert config.client_key == os.path.join(str(tmp_path), "key.pem")


def test_no_cert_path_env(tmp_path):
    config = engine_config(default_params())
    assert (config.ca_path, config.client_cert, config.client_key) == (None, None, None)


def test_argument_spec_merges():
    own = {"name": {"type": "str", "required": True}, "timeout": {"type": "int", "default": 300}}
    spec = argument_spec(own)
    assert set(spec) == set(ENGINE_ARGUMENT_SPEC) | {"name"}
    assert spec["timeout"] == {"type": "int", "default": 300}
    assert "registry_auth" not in spec
    # The shared dicts are not modified.
    assert ENGINE_ARGUMENT_SPEC["timeout"]["default"] == 60
    assert "name" not in ENGINE_ARGUMENT_SPEC

    with_registry = argument_spec(own, registry=True)
    assert set(with_registry) == set(ENGINE_ARGUMENT_SPEC) | set(REGISTRY_ARGUMENT_SPEC) | {"name"}
    assert with_registry["registry_auth"]["options"] is REGISTRY_AUTH_OPTIONS


def test_registry_secrets_are_no_log():
    assert {key for key, value in REGISTRY_AUTH_OPTIONS.items() if value.get("no_log")} == {
        "password", "identitytoken", "registrytoken"}
    assert not REGISTRY_AUTH_OPTIONS["username"].get("no_log")
    result = validated(argument_spec({}, registry=True), {"registry_auth": {
        "username": "deploy", "password": "hunter2", "identitytoken": "tok-abc", "registrytoken": "rt-xyz"}})
    assert {"hunter2", "tok-abc", "rt-xyz"} <= set(result._no_log_values)
    assert "deploy" not in result._no_log_values


def test_connect_and_credentials(tmp_path):
    client = connect(default_params(docker_host="tcp://127.0.0.1:2375"))
    assert isinstance(client, EngineClient)
    assert client.config.base_url == "http://127.0.0.1:2375"

    creds = Credentials.from_params({"registry_auth": {"username": "u", "password": "p"}, "docker_config": str(tmp_path)},
                                    registries=["registry.example.com"])
    assert isinstance(creds, Credentials)
    assert creds.for_registry("registry.example.com") == {
        "username": "u", "password": "p", "serveraddress": "registry.example.com"}
    assert creds.config.config_dir == str(tmp_path)


def test_image_diff():
    image = {"Id": "sha256:1", "RepoTags": ["b:1", "a:1"], "RepoDigests": None}
    assert image_diff(None, image) == {
        "before": {"exists": False},
        "after": {"exists": True, "id": "sha256:1", "tags": ["a:1", "b:1"], "digests": []}}
    assert image_diff(image, None)["after"] == {"exists": False}


def test_module_sees_shared_constants():
    assert _common.DEFAULT_DOCKER_HOST == "unix:///var/run/docker.sock"
