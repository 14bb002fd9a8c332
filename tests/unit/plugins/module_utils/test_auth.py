# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json
import os
import stat
import sys

import pytest

from ansible_collections.moby.engine.plugins.module_utils._auth import (
    DOCKER_HUB_AUTH_KEY,
    CredentialHelperError,
    Credentials,
    DockerConfig,
    auth_key,
    clean_auth,
    default_config_dir,
    encode_auth,
    encode_header,
    run_credential_helper,
)
from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput


def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode_header(value):
    return json.loads(base64.urlsafe_b64decode(value.encode("ascii")).decode("utf-8"))


def write_config(directory, data):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(data))
    return str(directory)


# A credential helper script, as the docker CLI runs it: `docker-credential-<name> get`, the server URL on
# stdin, a JSON answer on stdout.  Every call is logged so tests can check what the helper was asked.
HELPER_SCRIPT = r'''#!{python}
import json, sys
server = sys.stdin.read()
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "server": server}}) + "\n")
answers = {answers!r}
answer = answers.get(server)
if answer is None:
    print("credentials not found in native keychain")
    sys.exit(1)
if isinstance(answer, str):
    sys.stdout.write(answer)
    sys.exit(1)
print(json.dumps(answer))
'''


@pytest.fixture
def helper(tmp_path, monkeypatch):
    """Install docker-credential-<name> on PATH; return a function reading the helper's call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "helper.log"
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))

    def install(name, answers):
        script = bin_dir / ("docker-credential-" + name)
        script.write_text(HELPER_SCRIPT.format(python=sys.executable, log=str(log), answers=answers))
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    install.calls = calls
    return install


# -- header encoding ---------------------------------------------------------

@pytest.mark.parametrize("username, password, standard_char", [
    ("bob", "??>>", "/"),        # standard base64 of this JSON contains '/'
    ("alice", "p>w?d~~", "+"),   # ... and of this one '+'
])
def test_encode_auth_is_base64url(username, password, standard_char):
    auth = {"username": username, "password": password, "serveraddress": "registry.example.com"}
    compact = json.dumps(auth, separators=(",", ":"), sort_keys=True).encode("utf-8")
    # The chosen credentials really exercise the alphabet difference.
    assert standard_char in base64.b64encode(compact).decode("ascii")

    header = encode_auth(auth)

    assert "+" not in header and "/" not in header
    assert header == base64.urlsafe_b64encode(compact).decode("ascii")
    assert decode_header(header) == auth


def test_encode_auth_exact_value():
    header = encode_auth({"username": "bob", "password": "??>>", "serveraddress": "registry.example.com"})
    assert header == ("eyJwYXNzd29yZCI6Ij8_Pj4iLCJzZXJ2ZXJhZGRyZXNzIjoicmVnaXN0cnkuZXhhbXBsZS5jb20iLCJ1c2Vy"
                      "bmFtZSI6ImJvYiJ9")


def test_encode_auth_keeps_only_authconfig_keys():
    header = encode_auth({"username": "u", "password": "p", "email": "", "identitytoken": None,
                          "registry": "ignored", "auth": "dTpw", "serveraddress": "r.example.com"})
    assert decode_header(header) == {"username": "u", "password": "p", "serveraddress": "r.example.com"}


@pytest.mark.parametrize("auth", [None, {}, {"username": None, "password": ""}])
def test_encode_auth_without_credentials_is_empty_object(auth):
    header = encode_auth(auth)
    assert header == "e30="
    assert decode_header(header) == {}


def test_clean_auth_stringifies_values():
    assert clean_auth({"username": "u", "password": 1234, "unknown": "x"}) == {"username": "u", "password": "1234"}


def test_encode_header_is_compact_sorted_json():
    assert base64.urlsafe_b64decode(encode_header({"b": 1, "a": [1, 2]})) == b'{"a":[1,2],"b":1}'


@pytest.mark.parametrize("registry, key", [
    ("docker.io", DOCKER_HUB_AUTH_KEY),
    ("index.docker.io", DOCKER_HUB_AUTH_KEY),
    ("registry-1.docker.io", DOCKER_HUB_AUTH_KEY),
    (DOCKER_HUB_AUTH_KEY, DOCKER_HUB_AUTH_KEY),
    ("registry.example.com:5000", "registry.example.com:5000"),
])
def test_auth_key(registry, key):
    assert auth_key(registry) == key
    assert DOCKER_HUB_AUTH_KEY == "https://index.docker.io/v1/"


# -- config.json -------------------------------------------------------------

def test_config_auths_user_password(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {
        "https://index.docker.io/v1/": {"auth": b64("hubuser:hub:pass")},
        "registry.example.com:5000": {"auth": b64("alice:s3cret")},
    }})
    docker_config = DockerConfig(config)
    assert docker_config.credentials("docker.io") == {
        "serveraddress": "https://index.docker.io/v1/", "username": "hubuser", "password": "hub:pass"}
    assert docker_config.credentials("registry.example.com:5000") == {
        "serveraddress": "registry.example.com:5000", "username": "alice", "password": "s3cret"}
    assert docker_config.credentials("other.example.com") is None


def test_config_auths_key_with_scheme_matches_host(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {
        "https://registry.example.com": {"auth": b64("alice:pw")}}})
    assert DockerConfig(config).credentials("registry.example.com") == {
        "serveraddress": "https://registry.example.com", "username": "alice", "password": "pw"}


def test_config_auths_identitytoken(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"registry.example.com": {"identitytoken": "tok-123"}}})
    assert DockerConfig(config).credentials("registry.example.com") == {
        "serveraddress": "registry.example.com", "identitytoken": "tok-123"}


def test_config_empty_auths_entry_is_no_credentials(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"registry.example.com": {}}})
    assert DockerConfig(config).credentials("registry.example.com") is None


def test_config_bad_auth_entry(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"registry.example.com": {"auth": b64("no-colon")}}})
    with pytest.raises(InvalidInput) as exc:
        DockerConfig(config).credentials("registry.example.com")
    assert "registry.example.com" in str(exc.value)
    assert "no-colon" not in str(exc.value)


def test_config_not_json(tmp_path):
    directory = tmp_path / "cfg"
    directory.mkdir()
    (directory / "config.json").write_text("{not json")
    with pytest.raises(InvalidInput) as exc:
        DockerConfig(str(directory)).credentials("registry.example.com")
    assert str(directory / "config.json") in str(exc.value)


def test_config_missing_file_is_empty(tmp_path):
    assert DockerConfig(str(tmp_path / "nothing")).credentials("docker.io") is None
    assert DockerConfig(str(tmp_path / "nothing")).registries() == []


def test_docker_config_env_var(tmp_path, monkeypatch):
    config = write_config(tmp_path / "from-env", {"auths": {"registry.example.com": {"auth": b64("env:pw")}}})
    monkeypatch.setenv("DOCKER_CONFIG", config)
    assert default_config_dir() == config
    assert DockerConfig().path == os.path.join(config, "config.json")
    assert Credentials().for_registry("registry.example.com") == {
        "serveraddress": "registry.example.com", "username": "env", "password": "pw"}


def test_default_config_dir_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_dir() == os.path.join(str(tmp_path), ".docker")


# -- credential helpers ------------------------------------------------------

def test_creds_store_helper(tmp_path, helper):
    helper("teststore", {"registry.example.com": {
        "ServerURL": "registry.example.com", "Username": "alice", "Secret": "from-helper"}})
    config = write_config(tmp_path / "cfg", {"credsStore": "teststore",
                                             "auths": {"registry.example.com": {}}})
    assert DockerConfig(config).credentials("registry.example.com") == {
        "serveraddress": "registry.example.com", "username": "alice", "password": "from-helper"}
    assert helper.calls() == [{"argv": ["get"], "server": "registry.example.com"}]


def test_creds_store_helper_docker_hub_gets_index_url(tmp_path, helper):
    helper("teststore", {"https://index.docker.io/v1/": {
        "ServerURL": "https://index.docker.io/v1/", "Username": "hubuser", "Secret": "hubsecret"}})
    config = write_config(tmp_path / "cfg", {"credsStore": "teststore"})
    assert DockerConfig(config).credentials("docker.io") == {
        "serveraddress": "https://index.docker.io/v1/", "username": "hubuser", "password": "hubsecret"}
    assert helper.calls() == [{"argv": ["get"], "server": "https://index.docker.io/v1/"}]


def test_cred_helpers_wins_over_creds_store(tmp_path, helper):
    helper("store", {"registry.example.com": {"ServerURL": "registry.example.com", "Username": "s",
                                              "Secret": "store-secret"}})
    helper("special", {"registry.example.com": {"ServerURL": "registry.example.com", "Username": "h",
                                                "Secret": "helper-secret"}})
    config = write_config(tmp_path / "cfg", {"credsStore": "store",
                                             "credHelpers": {"registry.example.com": "special"}})
    assert DockerConfig(config).credentials("registry.example.com") == {
        "serveraddress": "registry.example.com", "username": "h", "password": "helper-secret"}


def test_cred_helpers_for_docker_hub_keyed_by_index_url(tmp_path, helper):
    # The docker CLI looks Docker Hub up in credHelpers under https://index.docker.io/v1/.
    helper("hub", {"https://index.docker.io/v1/": {"ServerURL": "https://index.docker.io/v1/",
                                                   "Username": "hubuser", "Secret": "hubsecret"}})
    config = write_config(tmp_path / "cfg", {"credHelpers": {"https://index.docker.io/v1/": "hub"}})
    assert DockerConfig(config).credentials("docker.io") == {
        "serveraddress": "https://index.docker.io/v1/", "username": "hubuser", "password": "hubsecret"}


def test_helper_token_username_is_identitytoken(tmp_path, helper):
    helper("tok", {"registry.example.com": {"ServerURL": "registry.example.com", "Username": "<token>",
                                            "Secret": "refresh-token"}})
    config = write_config(tmp_path / "cfg", {"credHelpers": {"registry.example.com": "tok"}})
    assert DockerConfig(config).credentials("registry.example.com") == {
        "serveraddress": "registry.example.com", "identitytoken": "refresh-token"}


def test_helper_credentials_not_found_is_none(tmp_path, helper):
    helper("empty", {})
    assert run_credential_helper("empty", "registry.example.com") is None
    config = write_config(tmp_path / "cfg", {"credsStore": "empty"})
    assert DockerConfig(config).credentials("registry.example.com") is None


def test_helper_not_found_falls_back_to_auths(tmp_path, helper):
    helper("empty", {})
    config = write_config(tmp_path / "cfg", {"credsStore": "empty",
                                             "auths": {"registry.example.com": {"auth": b64("a:b")}}})
    assert DockerConfig(config).credentials("registry.example.com") == {
        "serveraddress": "registry.example.com", "username": "a", "password": "b"}


def test_helper_missing_from_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    config = write_config(tmp_path / "cfg", {"credsStore": "nosuchhelper"})
    with pytest.raises(CredentialHelperError) as exc:
        DockerConfig(config).credentials("registry.example.com")
    assert str(exc.value) == ("credential helper docker-credential-nosuchhelper is configured for "
                              "registry.example.com but was not found on PATH")


def test_helper_failure_does_not_leak_beyond_first_line(helper):
    helper("broken", {"registry.example.com": "keychain locked\nUsername=alice Secret=hunter2\n"})
    with pytest.raises(CredentialHelperError) as exc:
        run_credential_helper("broken", "registry.example.com")
    assert str(exc.value) == ("credential helper docker-credential-broken failed for registry.example.com: "
                              "keychain locked")
    assert "hunter2" not in str(exc.value)


def test_helper_failure_without_output(helper):
    helper("silent", {"registry.example.com": ""})
    with pytest.raises(CredentialHelperError) as exc:
        run_credential_helper("silent", "registry.example.com")
    assert str(exc.value).endswith("failed for registry.example.com: exit status 1")


def test_helper_non_json_answer(tmp_path, monkeypatch):
    script = tmp_path / "docker-credential-garbage"
    script.write_text("#!/bin/sh\ncat >/dev/null\necho 'Secret is hunter2'\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CredentialHelperError) as exc:
        run_credential_helper("garbage", "registry.example.com")
    assert "not JSON" in str(exc.value)
    assert "hunter2" not in str(exc.value)


# -- precedence --------------------------------------------------------------

def test_registry_auth_wins_over_config(tmp_path, helper):
    helper("store", {"registry.example.com": {"ServerURL": "registry.example.com", "Username": "s",
                                              "Secret": "store-secret"}})
    config = write_config(tmp_path / "cfg", {"credsStore": "store",
                                             "auths": {"registry.example.com": {"auth": b64("cfg:pw")}}})
    creds = Credentials(registry_auth={"username": "task", "password": "taskpw", "email": None},
                        docker_config=config)
    assert creds.for_registry("registry.example.com") == {
        "username": "task", "password": "taskpw", "serveraddress": "registry.example.com"}
    assert decode_header(creds.header_for("registry.example.com")) == {
        "username": "task", "password": "taskpw", "serveraddress": "registry.example.com"}
    assert helper.calls() == []


def test_registry_auth_docker_hub_serveraddress(tmp_path):
    creds = Credentials(registry_auth={"username": "u", "password": "p"}, docker_config=str(tmp_path))
    assert creds.for_registry("docker.io")["serveraddress"] == "https://index.docker.io/v1/"
    explicit = Credentials(registry_auth={"username": "u", "password": "p", "serveraddress": "x.example.com"},
                           docker_config=str(tmp_path))
    assert explicit.for_registry("docker.io")["serveraddress"] == "x.example.com"


def test_no_credentials_header_is_empty_object(tmp_path):
    creds = Credentials(docker_config=str(tmp_path / "none"))
    assert creds.for_registry("docker.io") is None
    assert creds.header_for("docker.io") == "e30="


def test_per_registry_auths(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"registry.example.com": {"auth": b64("cfg:pw")}}})
    creds = Credentials(registry_auths={"registry.example.com": {"username": "per", "password": "reg"}},
                        docker_config=config)
    assert creds.for_registry("registry.example.com") == {
        "username": "per", "password": "reg", "serveraddress": "registry.example.com"}


# -- X-Registry-Config -------------------------------------------------------

def test_build_config_header_keyed_by_registry(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {
        "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpw")},
        "registry.example.com:5000": {"auth": b64("alice:pw")},
        "empty.example.com": {},
    }})
    header = Credentials(docker_config=config).build_config_header()
    assert "+" not in header and "/" not in header
    assert decode_header(header) == {
        "https://index.docker.io/v1/": {"serveraddress": "https://index.docker.io/v1/",
                                        "username": "hubuser", "password": "hubpw"},
        "registry.example.com:5000": {"serveraddress": "registry.example.com:5000",
                                      "username": "alice", "password": "pw"},
    }


def test_build_config_header_never_spreads_a_single_registry_auth(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"registry.example.com:5000": {"auth": b64("alice:pw")}}})
    credentials = Credentials(registry_auth={"username": "bob", "password": "bobs-secret"}, docker_config=config,
                              registry_auths={"127.0.0.1:5000": {"username": "moby", "password": "local"}})
    assert decode_header(credentials.build_config_header()) == {
        "127.0.0.1:5000": {"serveraddress": "127.0.0.1:5000", "username": "moby", "password": "local"},
        "registry.example.com:5000": {"serveraddress": "registry.example.com:5000",
                                      "username": "alice", "password": "pw"},
    }


def test_build_config_header_none_without_credentials(tmp_path):
    assert Credentials(docker_config=str(tmp_path)).build_config_header() is None
