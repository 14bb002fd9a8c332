# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Docker contexts: which one applies, and what engine address and TLS material it gives."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.moby.engine.plugins.module_utils._common import ENGINE_ARGUMENT_SPEC, engine_config
from ansible_collections.moby.engine.plugins.module_utils._contexts import context_name, load_context
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput


def make_context(directory, name, host, tls=False, skip_verify=False):
    """Lay a context out as `docker context create` does."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    meta = directory / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    meta.joinpath("meta.json").write_text(json.dumps({
        "Name": name, "Metadata": {},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    if tls:
        tls_dir = directory / "contexts" / "tls" / digest / "docker"
        tls_dir.mkdir(parents=True)
        for file_name in ("ca.pem", "cert.pem", "key.pem"):
            tls_dir.joinpath(file_name).write_text("-----BEGIN-----\n")
        return tls_dir
    return None


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS", "DOCKER_TLS_VERIFY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def params(**overrides):
    values = {name: spec.get("default") for name, spec in ENGINE_ARGUMENT_SPEC.items()}
    values.update(overrides)
    return values


def test_resolution_order(config_dir, monkeypatch):
    config_dir.joinpath("config.json").write_text(json.dumps({"currentContext": "current"}))
    assert context_name(None, False, str(config_dir)) == "current"
    monkeypatch.setenv("DOCKER_CONTEXT", "from-env")
    assert context_name(None, False, str(config_dir)) == "from-env"
    # An engine address (the option or DOCKER_HOST) wins over DOCKER_CONTEXT and currentContext ...
    assert context_name(None, True, str(config_dir)) is None
    # ... but not over a context named explicitly.
    assert context_name("explicit", True, str(config_dir)) == "explicit"
    assert context_name("default", False, str(config_dir)) is None


def test_no_config_means_no_context(config_dir):
    assert context_name(None, False, str(config_dir)) is None


def test_context_gives_address_and_tls_material(config_dir):
    tls_dir = make_context(config_dir, "remote", "tcp://engine.example.com:2376", tls=True)
    endpoint = load_context("remote", str(config_dir))
    assert endpoint.host == "tcp://engine.example.com:2376"
    assert endpoint.ca_path == str(tls_dir / "ca.pem")
    assert endpoint.client_cert == str(tls_dir / "cert.pem")
    assert endpoint.client_key == str(tls_dir / "key.pem")
    config = engine_config(params(docker_context="remote"))
    assert (config.docker_host, config.use_tls, config.verify) == ("tcp://engine.example.com:2376", True, True)
    assert config.ca_path == str(tls_dir / "ca.pem")


def test_skip_tls_verify_and_explicit_options_win(config_dir):
    make_context(config_dir, "lab", "tcp://lab:2376", tls=True, skip_verify=True)
    config = engine_config(params(docker_context="lab"))
    assert (config.use_tls, config.verify) == (True, False)
    config = engine_config(params(docker_context="lab", validate_certs=True, ca_path="/etc/lab-ca.pem"))
    assert (config.verify, config.ca_path) == (True, "/etc/lab-ca.pem")


def test_current_context_applies_without_an_address(config_dir):
    make_context(config_dir, "local", "unix:///run/other.sock")
    config_dir.joinpath("config.json").write_text(json.dumps({"currentContext": "local"}))
    assert engine_config(params()).docker_host == "unix:///run/other.sock"
    assert engine_config(params(docker_host="unix:///var/run/docker.sock")).docker_host == "unix:///var/run/docker.sock"


def test_default_address_without_anything(config_dir):
    assert engine_config(params()).docker_host == "unix:///var/run/docker.sock"


def test_missing_context_says_where_it_looked(config_dir):
    with pytest.raises(InvalidInput, match=r"docker context 'nope' does not exist in .*; 'docker context ls' lists"):
        engine_config(params(docker_context="nope"))


def test_broken_meta_is_a_clear_error(config_dir):
    make_context(config_dir, "broken", "unix:///x.sock")
    digest = hashlib.sha256(b"broken").hexdigest()
    config_dir.joinpath("contexts", "meta", digest, "meta.json").write_text("[1, 2")
    with pytest.raises(InvalidInput, match=r"context 'broken' \(.*meta.json\) is not valid JSON"):
        load_context("broken", str(config_dir))
