# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.moby.engine.plugins.module_utils import _common, _transport
from ansible_collections.moby.engine.plugins.module_utils._auth import Credentials
from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient, EngineConfig
from ansible_collections.moby.engine.plugins.module_utils._common import (
    ENGINE_ARGUMENT_SPEC,
    REGISTRY_ARGUMENT_SPEC,
    REGISTRY_AUTH_OPTIONS,
    argument_spec,
    check_minimums,
    check_requirements,
    connect,
    engine_config,
    failure_message,
    image_diff,
    public_auth_values,
    requirement_applies,
)
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, UnsupportedApiVersion, UnsupportedByEngine
from ansible_collections.moby.engine.plugins.modules import build_cache_prune, image_build, image_pull, image_push
from ansible_collections.moby.engine.tests.unit.plugins.fake_engine import TCP_HOST, error

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


# -- the runner, end to end --------------------------------------------------------
# run_module drives a whole module: AnsibleModule reads the arguments as Ansible passes them, the client talks to
# the fake engine, and exit_json/fail_json print the result and exit.


@contextmanager
def module_args(args):
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core before 2.19
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")):
            yield
        return
    with patch_module_args(args):
        yield


@pytest.fixture
def run_main(capsys):
    """run_main(main, **args) -> the module's JSON result (it always exits)."""

    def run(main, **args):
        args.setdefault("docker_host", TCP_HOST)
        with module_args(args), pytest.raises(SystemExit):
            main()
        return json.loads(capsys.readouterr().out)

    return run


def warnings(result):
    """The texts of a result's warnings (ansible-core 2.19 sends each as a WarningSummary)."""
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


def test_success_reports_the_result_and_warnings(fake_engine, run_main):
    _client, engine = fake_engine("podman")
    engine.add_image("127.0.0.1:5000/team/app:1")
    result = run_main(image_push.main, name="127.0.0.1:5000/team/app:1", docker_config="/nonexistent")
    assert result["changed"] is True and result["pushed"] is True
    assert "failed" not in result
    assert warnings(result) == [
        "Podman 4.3.1 (API 1.41) has no GET /distribution/127.0.0.1:5000/team/app:1/json endpoint, so the registry's "
        "digest of 127.0.0.1:5000/team/app:1 is unknown: the image is pushed on every run and the task always reports "
        "a change"]


def test_engine_error_fails_with_what_was_attempted(docker, run_main):
    _client, _engine = docker
    result = run_main(image_pull.main, name=["busybox:nope"], docker_config="/nonexistent")
    assert result["failed"] is True
    assert result["msg"] == "Pulling busybox:nope failed: manifest for busybox:nope not found: manifest unknown: " \
                            "manifest unknown"


def test_missing_library_reports_the_traceback(docker, run_main, monkeypatch):
    if hasattr(basic, "_traceback"):
        # ansible-core 2.19 includes a traceback only when the controller asks for them (-vvv).
        monkeypatch.setattr(basic._traceback, "is_traceback_enabled", lambda event: True)
    monkeypatch.setattr(_transport, "requests", None)
    monkeypatch.setattr(_transport, "REQUESTS_IMPORT_ERROR", "Traceback: No module named 'requests'")
    result = run_main(image_pull.main, name=["busybox"], docker_config="/nonexistent")
    assert result["failed"] is True
    assert result["msg"].startswith("Pulling busybox failed: Failed to import the required Python library (requests)")
    assert result["exception"] == "Traceback: No module named 'requests'"


def test_stream_error_ends_with_the_log_tail(docker, run_main, tmp_path):
    _client, engine = docker
    engine.add_image("busybox:1.36")
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\nRUN exit 3\n")
    result = run_main(image_build.main, name="team/app:1", path=str(tmp_path), docker_config="/nonexistent")
    assert result["failed"] is True
    assert result["msg"].endswith("The command '/bin/sh -c exit 3' returned a non-zero code: 3. Last lines of the log:\n"
                                  "Step 1/2 : FROM busybox:1.36\nStep 2/2 : RUN exit 3")
    assert result["log"] == ["Step 1/2 : FROM busybox:1.36", "Step 2/2 : RUN exit 3"]


def test_unmet_requirement_names_the_option(podman, run_main):
    _client, engine = podman
    result = run_main(image_pull.main, name=["registry.example.com/team/app"], all_tags=True,
                      docker_config="/nonexistent")
    assert result["failed"] is True
    assert result["msg"] == ("Pulling registry.example.com/team/app failed: all_tags needs a pull of every tag (Podman's "
                             "service pulls only :latest), which the engine at tcp://127.0.0.1:2375, Podman 4.3.1 (API "
                             "1.41), does not offer. Leave all_tags unset on Podman, or use Docker")
    assert engine.mutations() == []


def test_requirement_labels_name_what_the_user_wrote(podman, run_main):
    _client, _engine = podman
    result = run_main(build_cache_prune.main)
    assert result["msg"].startswith("Pruning the build cache of tcp://127.0.0.1:2375 failed: build_cache_prune needs "
                                    "the engine's build cache (POST /build/prune)")


def test_minimums_are_checked_before_connecting(docker, run_main):
    _client, engine = docker
    result = run_main(image_pull.main, name=["busybox"], parallel=0, docker_config="/nonexistent")
    assert result["failed"] is True
    assert result["msg"] == "Pulling busybox failed: parallel must be 1 or more, got 0"
    assert engine.requests == []


def test_secrets_the_credentials_resolved_are_masked(docker, run_main):
    _client, engine = docker
    engine.on("POST", "/images/create", error(500, "proxy refused user deploy with password s3cret-Passw0rd"))
    result = run_main(image_pull.main, name=["registry.example.com/team/app:1"], docker_config="/nonexistent",
                      registry_auths={"registry.example.com": {"username": "deploy", "password": "s3cret-Passw0rd"}})
    assert "s3cret-Passw0rd" not in json.dumps(result)
    # A user name is not a secret: it stays readable, and so do image names that contain it.
    assert "user deploy" in result["msg"]


@pytest.mark.parametrize("selector, params, applies", [
    ("*", {}, True),
    ("builder=buildkit", {"builder": "buildkit"}, True),
    ("builder=buildkit", {"builder": "classic"}, False),
    ("all_tags", {"all_tags": True}, True),
    ("all_tags", {"all_tags": False}, False),
    ("outputs", {"outputs": []}, False),
    ("outputs", {"outputs": None}, False),
    ("platform", {"platform": ""}, False),
    ("filters.label!", {"filters": {"label!": "pin"}}, True),
    ("filters.label!", {"filters": {"label": "pin"}}, False),
    ("filters.label!", {"filters": None}, False),
    ("filters.label!", {}, False),
])
def test_requirement_applies(selector, params, applies):
    assert requirement_applies(selector, params) is applies


def test_check_requirements_stops_at_the_first_unmet(podman):
    client, _engine = podman
    requires = {"shared_size": Requirement(api="1.42"), "all_tags": Requirement(feature="pull_all_tags")}
    check_requirements(client, requires, {"shared_size": False, "all_tags": False}, {})
    with pytest.raises(UnsupportedApiVersion) as exc:
        check_requirements(client, requires, {"shared_size": True, "all_tags": True}, {})
    assert str(exc.value) == ("shared_size needs engine API 1.42 or newer; the engine at tcp://127.0.0.1:2375 is "
                              "Podman 4.3.1 (API 1.41). Leave shared_size unset on this engine, or upgrade it")
    with pytest.raises(UnsupportedByEngine):
        check_requirements(client, requires, {"all_tags": True}, {"all_tags": "all_tags"})


def test_failure_message():
    assert failure_message("Pulling {name} failed: {error}", {"name": ["a", "b"]}, "why") == "Pulling a, b failed: why"
    assert failure_message(lambda params, error: params["x"] + error, {"x": "1"}, "2") == "12"


def test_check_minimums():
    check_minimums({"retries": 0}, {"retries": 0})
    check_minimums({"retries": 0}, {"retries": None})
    with pytest.raises(InvalidInput) as exc:
        check_minimums({"retries": 0}, {"retries": -1})
    assert str(exc.value) == "retries must be 0 or more, got -1"


def test_public_auth_values():
    auths = {"registry.example.com": {"username": "deploy", "password": "pw", "email": "ops@example.com"},
             "other.example.com": {"username": "pw", "password": "x"}}
    # A value that is somewhere a secret is never public.
    assert public_auth_values(auths) == {"deploy", "ops@example.com"}
    assert public_auth_values(None) == set()
