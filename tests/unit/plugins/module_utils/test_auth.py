# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import sys
import time

import pytest

from ansible_collections.moby.engine.plugins.module_utils import _auth as auth_module
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
    normalize_registry,
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


def test_helper_not_found_is_anonymous_even_with_auths(tmp_path, helper):
    # As the docker CLI: with a helper configured, its "not found" is the answer; auths is not consulted.
    helper("empty", {})
    config = write_config(tmp_path / "cfg", {"credsStore": "empty",
                                             "auths": {"registry.example.com": {"auth": b64("a:b")}}})
    assert DockerConfig(config).credentials("registry.example.com") is None
    assert helper.calls() == [{"argv": ["get"], "server": "registry.example.com"}]


def test_helper_missing_from_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    config = write_config(tmp_path / "cfg", {"credsStore": "nosuchhelper"})
    with pytest.raises(CredentialHelperError) as exc:
        DockerConfig(config).credentials("registry.example.com")
    assert str(exc.value).startswith("credential helper docker-credential-nosuchhelper is configured for "
                                     "registry.example.com but was not found on PATH; install it")
    assert os.path.join(config, "config.json") in str(exc.value)


def test_helper_failure_never_echoes_its_output(helper):
    helper("broken", {"registry.example.com": "hunter2 is the password\nUsername=alice Secret=hunter2\n"})
    with pytest.raises(CredentialHelperError) as exc:
        run_credential_helper("broken", "registry.example.com")
    message = str(exc.value)
    assert message.startswith("credential helper docker-credential-broken failed for registry.example.com "
                              "(exit status 1); its output is not shown")
    assert "docker-credential-broken get" in message
    assert "hunter2" not in message and "alice" not in message


def test_helper_failure_without_output(helper):
    helper("silent", {"registry.example.com": ""})
    with pytest.raises(CredentialHelperError) as exc:
        run_credential_helper("silent", "registry.example.com")
    assert "failed for registry.example.com (exit status 1)" in str(exc.value)


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
                        docker_config=config, registries={"registry.example.com"})
    assert creds.for_registry("registry.example.com") == {
        "username": "task", "password": "taskpw", "serveraddress": "registry.example.com"}
    assert decode_header(creds.header_for("registry.example.com")) == {
        "username": "task", "password": "taskpw", "serveraddress": "registry.example.com"}
    assert helper.calls() == []


def test_registry_auth_docker_hub_serveraddress(tmp_path):
    creds = Credentials(registry_auth={"username": "u", "password": "p"}, docker_config=str(tmp_path),
                        registries=["docker.io"])
    assert creds.for_registry("docker.io")["serveraddress"] == "https://index.docker.io/v1/"
    # Before, an explicit serveraddress for another registry was sent to Docker Hub all the same.
    explicit = Credentials(registry_auth={"username": "u", "password": "p", "serveraddress": "x.example.com"},
                           docker_config=str(tmp_path), registries=["docker.io"])
    assert explicit.for_registry("docker.io") is None
    assert explicit.for_registry("x.example.com")["serveraddress"] == "x.example.com"


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
    credentials = Credentials(registry_auth={"username": "bob", "password": "bobs-secret",
                                             "serveraddress": "https://bob.example.com/v2/"},
                              docker_config=config,
                              registry_auths={"127.0.0.1:5000": {"username": "moby", "password": "local"}})
    assert decode_header(credentials.build_config_header()) == {
        "127.0.0.1:5000": {"serveraddress": "127.0.0.1:5000", "username": "moby", "password": "local"},
        "bob.example.com": {"serveraddress": "https://bob.example.com/v2/", "username": "bob",
                            "password": "bobs-secret"},
        "registry.example.com:5000": {"serveraddress": "registry.example.com:5000",
                                      "username": "alice", "password": "pw"},
    }


def test_build_config_header_none_without_credentials(tmp_path):
    assert Credentials(docker_config=str(tmp_path)).build_config_header() is None


# -- issue 13: each registry gets only its own credentials ------------------

HUB_SPELLINGS = ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/",
                 "https://registry-1.docker.io/v2/", "Docker.IO"]


@pytest.mark.parametrize("name, normalized", [
    ("docker.io", "docker.io"),
    ("index.docker.io", "docker.io"),
    ("registry-1.docker.io", "docker.io"),
    ("https://index.docker.io/v1/", "docker.io"),
    ("https://reg.example.com:5000/v2/", "reg.example.com:5000"),
    ("http://reg.example.com", "reg.example.com"),
    ("reg.example.com:5000/some/path", "reg.example.com:5000"),
    ("localhost:5000", "localhost:5000"),
])
def test_normalize_registry(name, normalized):
    assert normalize_registry(name) == normalized


def test_auth_key_strips_scheme_and_path():
    assert auth_key("https://reg.example.com:5000/v2/") == "reg.example.com:5000"
    assert auth_key("https://registry-1.docker.io/v2/") == DOCKER_HUB_AUTH_KEY


def test_registry_auth_goes_only_to_the_registry_of_its_serveraddress(tmp_path):
    # The reported case: private credentials, and a list of images that also names Docker Hub.
    creds = Credentials(registry_auth={"username": "deploy", "password": "private-pw",
                                       "serveraddress": "https://reg.example.com:5000/v2/"},
                        docker_config=str(tmp_path / "none"), registries={"reg.example.com:5000", "docker.io"})
    assert creds.for_registry("reg.example.com:5000")["password"] == "private-pw"
    assert creds.for_registry("docker.io") is None
    assert creds.header_for("docker.io") == "e30="
    assert creds.header_for("other.example.com") == "e30="
    assert "private-pw" not in json.dumps(decode_header(creds.header_for("docker.io")))
    assert creds.warnings == []


@pytest.mark.parametrize("serveraddress", HUB_SPELLINGS)
def test_registry_auth_docker_hub_spellings(tmp_path, serveraddress):
    creds = Credentials(registry_auth={"username": "u", "password": "hub-pw", "serveraddress": serveraddress},
                        docker_config=str(tmp_path / "none"), registries={"docker.io", "reg.example.com"})
    for name in ("docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB_AUTH_KEY):
        assert creds.for_registry(name)["password"] == "hub-pw"
    assert creds.for_registry("reg.example.com") is None


def test_registry_auth_without_serveraddress_goes_to_the_one_registry(tmp_path):
    creds = Credentials(registry_auth={"username": "u", "password": "pw"}, docker_config=str(tmp_path / "none"),
                        registries=["reg.example.com:5000", "https://reg.example.com:5000/v2/"])
    assert creds.for_registry("reg.example.com:5000") == {
        "username": "u", "password": "pw", "serveraddress": "reg.example.com:5000"}
    assert creds.for_registry("docker.io") is None
    assert creds.explicit_registry == "reg.example.com:5000"


def test_registry_auth_without_serveraddress_refused_for_several_registries(tmp_path):
    with pytest.raises(InvalidInput) as exc:
        Credentials(registry_auth={"username": "u", "password": "private-pw"}, docker_config=str(tmp_path),
                    registries=["reg.example.com", "docker.io", "index.docker.io"])
    message = str(exc.value)
    assert "registry_auth.serveraddress" in message
    assert "several registries (docker.io, reg.example.com)" in message
    assert "private-pw" not in message


def test_registry_auth_without_serveraddress_refused_without_registries(tmp_path):
    with pytest.raises(InvalidInput) as exc:
        Credentials(registry_auth={"username": "u", "password": "private-pw"}, docker_config=str(tmp_path))
    assert "registry_auth.serveraddress" in str(exc.value)
    assert "private-pw" not in str(exc.value)


def test_registry_auth_without_credentials_is_ignored(tmp_path):
    # Ansible gives every sub-option, unset ones as None.
    creds = Credentials(registry_auth={"username": None, "password": None, "email": None, "serveraddress": None,
                                       "identitytoken": None, "registrytoken": None},
                        docker_config=str(tmp_path), registries=["a.example.com", "b.example.com"])
    assert creds.explicit is None and creds.for_registry("a.example.com") is None


def test_registry_auth_for_a_registry_the_task_does_not_use_warns(tmp_path):
    creds = Credentials(registry_auth={"username": "u", "password": "pw", "serveraddress": "typo.example.com"},
                        docker_config=str(tmp_path), registries=["reg.example.com"])
    assert creds.for_registry("reg.example.com") is None
    assert creds.warnings == ["registry_auth.serveraddress names typo.example.com, but this task uses only "
                              "reg.example.com; registry_auth is sent to typo.example.com only, so it is not used"]


def test_other_registries_get_their_docker_config_credentials(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {
        "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpw")},
        "reg.example.com": {"auth": b64("cfg:cfgpw")}}})
    creds = Credentials(registry_auth={"username": "task", "password": "taskpw", "serveraddress": "reg.example.com"},
                        docker_config=config, registries=["reg.example.com", "docker.io"])
    assert creds.for_registry("reg.example.com")["password"] == "taskpw"
    assert creds.for_registry("docker.io") == {"serveraddress": "https://index.docker.io/v1/",
                                               "username": "hubuser", "password": "hubpw"}


def test_build_config_header_keys_registry_auth_by_its_registry_only(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"mirror.example.com": {"auth": b64("m:mirrorpw")}}})
    creds = Credentials(registry_auth={"username": "u", "password": "hub-pw", "serveraddress": "index.docker.io"},
                        docker_config=config)
    assert decode_header(creds.build_config_header()) == {
        DOCKER_HUB_AUTH_KEY: {"username": "u", "password": "hub-pw", "serveraddress": "index.docker.io"},
        "mirror.example.com": {"serveraddress": "mirror.example.com", "username": "m", "password": "mirrorpw"},
    }


def test_build_config_header_includes_named_registries_from_creds_store(tmp_path, helper):
    helper("store", {"reg.example.com": {"ServerURL": "reg.example.com", "Username": "s", "Secret": "store-pw"}})
    config = write_config(tmp_path / "cfg", {"credsStore": "store"})
    creds = Credentials(docker_config=config, registries=["reg.example.com", "docker.io"])
    assert decode_header(creds.build_config_header()) == {
        "reg.example.com": {"serveraddress": "reg.example.com", "username": "s", "password": "store-pw"}}


# -- issue 13: registry_auths -------------------------------------------------

@pytest.mark.parametrize("key", HUB_SPELLINGS[:4])
def test_registry_auths_docker_hub_keys(tmp_path, key):
    creds = Credentials(registry_auths={key: {"username": "hub", "password": "hub-pw"}},
                        docker_config=str(tmp_path))
    assert creds.for_registry("docker.io") == {"username": "hub", "password": "hub-pw",
                                               "serveraddress": DOCKER_HUB_AUTH_KEY}
    assert creds.for_registry("reg.example.com") is None
    assert list(decode_header(creds.build_config_header())) == [DOCKER_HUB_AUTH_KEY]


def test_registry_auths_key_with_scheme_and_path(tmp_path):
    creds = Credentials(registry_auths={"https://reg.example.com:5000/v2/": {"identitytoken": "tok"}},
                        docker_config=str(tmp_path))
    assert creds.for_registry("reg.example.com:5000") == {"identitytoken": "tok",
                                                          "serveraddress": "reg.example.com:5000"}
    assert list(decode_header(creds.build_config_header())) == ["reg.example.com:5000"]


@pytest.mark.parametrize("auths, expected", [
    ({"docker.io": {"username": "u", "password": "secret-1"}, "https://index.docker.io/v1/": {"password": "secret-2"}},
     "name the same registry (docker.io)"),
    ({"reg.example.com": {"username": "u", "pasword": "secret-1"}}, "registry_auths.reg.example.com has unknown keys pasword"),
    ({"reg.example.com": "secret-1"}, "registry_auths.reg.example.com must be a dict of credentials"),
    ({"reg.example.com": {"password": ["secret-1"]}}, "registry_auths.reg.example.com.password must be a string"),
    ({"": {"password": "secret-1"}}, "names no registry"),
    ({"reg.example.com": {"password": "secret-1", "serveraddress": "other.example.com"}},
     "serveraddress names another registry (other.example.com)"),
    (["secret-1"], "registry_auths must be a dict of registry to credentials"),
])
def test_registry_auths_refused(tmp_path, auths, expected):
    with pytest.raises(InvalidInput) as exc:
        Credentials(registry_auths=auths, docker_config=str(tmp_path))
    assert expected in str(exc.value)
    assert "secret-1" not in str(exc.value) and "secret-2" not in str(exc.value)


def test_precedence_registry_auth_then_registry_auths_then_config(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {name: {"auth": b64("cfg:cfg-" + name)} for name in (
        "a.example.com", "b.example.com", "c.example.com")}})
    creds = Credentials(registry_auth={"username": "single", "password": "single-pw", "serveraddress": "a.example.com"},
                        registry_auths={"a.example.com": {"username": "per", "password": "per-a"},
                                        "b.example.com": {"username": "per", "password": "per-b"}},
                        docker_config=config, registries=["a.example.com", "b.example.com", "c.example.com"])
    assert creds.for_registry("a.example.com")["password"] == "single-pw"
    assert creds.for_registry("b.example.com")["password"] == "per-b"
    assert creds.for_registry("c.example.com")["password"] == "cfg-c.example.com"
    assert creds.for_registry("d.example.com") is None


def test_from_params_reads_every_registry_option(tmp_path):
    params = {"registry_auth": {"username": "u", "password": "pw", "email": None, "serveraddress": None,
                                "identitytoken": None, "registrytoken": None},
              "registry_auths": {"docker.io": {"username": "hub", "password": "hub-pw"}},
              "docker_config": str(tmp_path)}
    creds = Credentials.from_params(params, registries={"reg.example.com"})
    assert creds.for_registry("reg.example.com")["password"] == "pw"
    assert creds.for_registry("docker.io")["password"] == "hub-pw"
    with pytest.raises(InvalidInput):
        Credentials.from_params(params, registries={"reg.example.com", "docker.io"})


# -- issue 13: secrets for masking -------------------------------------------

def test_secrets_from_params_and_headers(tmp_path):
    creds = Credentials(registry_auth={"username": "alice", "password": "pw-1", "email": "a@example.com",
                                       "serveraddress": "a.example.com"},
                        registry_auths={"b.example.com": {"username": "bob", "identitytoken": "tok-2"},
                                        "c.example.com": {"registrytoken": "tok-3"}},
                        docker_config=str(tmp_path), registries=["a.example.com"])
    assert creds.secrets == {"pw-1", "tok-2", "tok-3"}
    header = creds.header_for("a.example.com")
    config_header = creds.build_config_header()
    assert creds.secrets == {"pw-1", "tok-2", "tok-3", header, config_header}
    # An anonymous header holds nothing to hide; masking it would only garble the output.
    assert creds.header_for("d.example.com") == "e30="
    assert "e30=" not in creds.secrets


def test_secrets_from_config_json(tmp_path):
    encoded = b64("alice:file-pw")
    config = write_config(tmp_path / "cfg", {"auths": {"a.example.com": {"auth": encoded},
                                                       "b.example.com": {"identitytoken": "file-tok"}}})
    creds = Credentials(docker_config=config)
    creds.for_registry("a.example.com")
    creds.for_registry("b.example.com")
    assert creds.secrets == {encoded, "file-pw", "file-tok"}
    assert "alice" not in creds.secrets


def test_secrets_from_credential_helper(tmp_path, helper):
    helper("store", {"a.example.com": {"ServerURL": "a.example.com", "Username": "s", "Secret": "helper-pw"},
                     "b.example.com": {"ServerURL": "b.example.com", "Username": "<token>", "Secret": "helper-tok"}})
    config = write_config(tmp_path / "cfg", {"credsStore": "store"})
    creds = Credentials(docker_config=config)
    header = creds.header_for("a.example.com")
    creds.header_for("b.example.com")
    assert {"helper-pw", "helper-tok", header} <= creds.secrets
    assert "s" not in creds.secrets


def test_credential_helper_runs_once_per_registry(tmp_path, helper):
    helper("store", {"a.example.com": {"ServerURL": "a.example.com", "Username": "s", "Secret": "helper-pw"}})
    config = write_config(tmp_path / "cfg", {"credsStore": "store"})
    creds = Credentials(docker_config=config)
    for dummy in range(3):
        assert decode_header(creds.header_for("a.example.com"))["password"] == "helper-pw"
    assert len(helper.calls()) == 1


# -- issue 13: credential helper robustness ---------------------------------

def install_script(directory, name, body, mode=0o755):
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / ("docker-credential-" + name)
    script.write_text(body)
    script.chmod(mode)
    return script


def process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open("/proc/{0}/stat".format(pid)) as handle:
            return handle.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_helper_timeout_stops_its_whole_process_group(tmp_path, monkeypatch):
    pid_file = tmp_path / "grandchild.pid"
    # The grandchild lets go of the pipes, as a daemonising agent would, so only a group kill can reach it.
    install_script(tmp_path / "bin", "slow", "#!/bin/sh\ncat >/dev/null\n"
                   "sleep 120 </dev/null >/dev/null 2>&1 &\necho $! > {0}\nexec sleep 120\n".format(pid_file))
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setattr(auth_module, "CREDENTIAL_HELPER_TIMEOUT", 1)
    started = time.monotonic()
    try:
        with pytest.raises(CredentialHelperError) as exc:
            run_credential_helper("slow", "registry.example.com", source="/cfg/config.json")
        assert time.monotonic() - started < 15
        assert str(exc.value).startswith("credential helper docker-credential-slow did not answer within 1 s for "
                                         "registry.example.com and was stopped")
        grandchild = int(pid_file.read_text())
        deadline = time.monotonic() + 5
        while not process_gone(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_gone(grandchild)
    finally:
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@pytest.mark.parametrize("answer, expected", [
    ('["Username", "Secret"]', "with a JSON list, not an object"),
    ('"secret-1"', "with a JSON str, not an object"),
    ('{"Username": "u", "Secret": ["secret-1"]}', "Username or Secret that is not a string"),
    ("Secret: secret-1", "not JSON"),
])
def test_helper_answer_not_an_object(tmp_path, monkeypatch, answer, expected):
    install_script(tmp_path / "bin", "odd", "#!/bin/sh\ncat >/dev/null\necho '{0}'\n".format(answer))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(CredentialHelperError) as exc:
        run_credential_helper("odd", "registry.example.com")
    assert expected in str(exc.value)
    assert "secret-1" not in str(exc.value)


def test_helper_not_executable(tmp_path, monkeypatch):
    install_script(tmp_path / "bin", "noexec", "#!/bin/sh\necho '{}'\n", mode=0o644)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(CredentialHelperError) as exc:
        run_credential_helper("noexec", "registry.example.com", source="/cfg/config.json")
    assert str(exc.value) == ("credential helper docker-credential-noexec is configured for registry.example.com but "
                              "is not executable by the user the module runs as; check its permissions, or fix or "
                              "remove it in /cfg/config.json")


def test_helper_exit_status_and_stderr_not_echoed(tmp_path, monkeypatch):
    install_script(tmp_path / "bin", "loud", "#!/bin/sh\ncat >/dev/null\necho 'secret-1' >&2\necho 'secret-2'\nexit 3\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    config = write_config(tmp_path / "cfg", {"credHelpers": {"registry.example.com": "loud"}})
    with pytest.raises(CredentialHelperError) as exc:
        DockerConfig(config).credentials("registry.example.com")
    message = str(exc.value)
    assert "docker-credential-loud" in message and "(exit status 3)" in message
    assert os.path.join(config, "config.json") in message
    assert "secret-1" not in message and "secret-2" not in message


def test_helper_server_url_answer_is_not_trusted(helper):
    helper("store", {"registry.example.com": {"ServerURL": "evil.example.com", "Username": "u", "Secret": "pw"}})
    assert run_credential_helper("store", "registry.example.com")["serveraddress"] == "registry.example.com"


# An empty credsStore means none, as for the docker CLI; an empty credHelpers entry is refused.
@pytest.mark.parametrize("section, name", [
    (section, name) for section in ("credsStore", "credHelpers")
    for name in ("../evil", "sub/evil", "..\\evil", ".hidden", "") if (section, name) != ("credsStore", "")])
def test_helper_names_that_are_not_plain_are_refused(tmp_path, monkeypatch, helper, section, name):
    # Something such a name could reach, relative to the working directory.
    install_script(tmp_path / "docker-credential-sub", "x", "#!/bin/sh\nexit 0\n")
    monkeypatch.chdir(tmp_path)
    helper("evil", {"registry.example.com": {"Username": "u", "Secret": "pw"}})
    data = {"credsStore": name} if section == "credsStore" else {"credHelpers": {"registry.example.com": name}}
    config = write_config(tmp_path / "cfg", data)
    with pytest.raises(InvalidInput) as exc:
        DockerConfig(config).credentials("registry.example.com")
    assert section in str(exc.value) and os.path.join(config, "config.json") in str(exc.value)
    assert helper.calls() == []
    with pytest.raises(InvalidInput):
        run_credential_helper(name, "registry.example.com")


def test_empty_creds_store_means_none(tmp_path):
    config = write_config(tmp_path / "cfg", {"credsStore": "", "auths": {"registry.example.com": {"auth": b64("a:b")}}})
    assert DockerConfig(config).credentials("registry.example.com")["password"] == "b"


# -- issue 13: broken config.json entries -------------------------------------

@pytest.mark.parametrize("entry, expected", [
    ({"auth": b64("alice:secret-1") + "!!"}, "'auth' is not valid base64 of user:password"),
    ({"auth": b64("alice:secret-1")[:-2]}, "'auth' is not valid base64 of user:password"),
    ({"auth": b64(":secret-1")}, "'auth' does not hold user:password"),
    ({"auth": 12345}, "'auth' is not a string"),
    ({"identitytoken": ["secret-1"]}, "'identitytoken' is not a string"),
    ("secret-1", "is not a JSON object"),
    (["secret-1"], "is not a JSON object"),
])
def test_config_bad_auths_entry_named_never_shown(tmp_path, entry, expected):
    config = write_config(tmp_path / "cfg", {"auths": {"https://registry.example.com": entry}})
    with pytest.raises(InvalidInput) as exc:
        Credentials(docker_config=config).header_for("registry.example.com")
    message = str(exc.value)
    assert expected in message
    assert "'https://registry.example.com' of 'auths' in " + os.path.join(config, "config.json") in message
    assert "secret-1" not in message and "c2VjcmV0" not in message


def test_config_auth_with_line_breaks_is_accepted(tmp_path):
    # Go's base64 decoder, and so the docker CLI, skips line breaks.
    encoded = b64("alice:" + "p" * 60)
    config = write_config(tmp_path / "cfg", {"auths": {"registry.example.com": {"auth": encoded[:40] + "\n" + encoded[40:]}}})
    assert DockerConfig(config).credentials("registry.example.com")["password"] == "p" * 60


@pytest.mark.parametrize("data, expected", [
    ({"auths": ["registry.example.com"]}, "'auths' in docker config"),
    ({"credHelpers": "pass"}, "'credHelpers' in docker config"),
])
def test_config_sections_must_be_objects(tmp_path, data, expected):
    config = write_config(tmp_path / "cfg", data)
    with pytest.raises(InvalidInput) as exc:
        DockerConfig(config).credentials("registry.example.com")
    assert expected in str(exc.value)


def test_config_bad_entry_of_another_registry_is_not_read_for_a_pull(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"broken.example.com": "x",
                                                       "registry.example.com": {"auth": b64("a:b")}}})
    assert DockerConfig(config).credentials("registry.example.com")["password"] == "b"


def test_registry_auths_entry_without_credentials_leaves_config(tmp_path):
    config = write_config(tmp_path / "cfg", {"auths": {"reg.example.com": {"auth": b64("cfg:cfgpw")}}})
    creds = Credentials(registry_auths={"reg.example.com": {"email": "a@example.com", "password": None}},
                        docker_config=config)
    assert creds.for_registry("reg.example.com")["password"] == "cfgpw"


def test_config_not_utf8_quotes_no_byte(tmp_path):
    directory = tmp_path / "cfg"
    directory.mkdir()
    (directory / "config.json").write_bytes(b'{"auths": {"r": {"password": "\xfe\xff"}}}')
    with pytest.raises(InvalidInput) as exc:
        DockerConfig(str(directory)).credentials("r")
    assert str(exc.value) == "cannot read docker config {0}: it is not UTF-8".format(directory / "config.json")
