# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Registry credentials: where they come from and how the engine wants them.

Order of precedence for one registry, as with the docker CLI:
a per-task ``registry_auth`` wins; otherwise ``config.json`` is read from
``docker_config``: ``credHelpers[registry]``, then ``credsStore``, then
``auths[registry]``.  Credentials never leave this module except as the
encoded header value, and no error message carries them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping
from typing import Any, Dict, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, MobyEngineError

AuthConfig = Dict[str, str]

AUTH_CONFIG_KEYS = ("username", "password", "email", "serveraddress", "identitytoken", "registrytoken")
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB_AUTH_KEY)
CREDENTIAL_HELPER_TIMEOUT = 30


class CredentialHelperError(MobyEngineError):
    """A docker-credential-* helper failed (other than 'no credentials for this registry')."""


def encode_header(value: Any) -> str:
    """base64url of compact JSON, the encoding of X-Registry-Auth and X-Registry-Config."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def encode_auth(auth: AuthConfig | None) -> str:
    """X-Registry-Auth value; ``{}`` when there are no credentials (newer engines require the header)."""
    return encode_header(clean_auth(auth or {}))


def clean_auth(auth: Mapping[str, Any]) -> AuthConfig:
    return {key: str(auth[key]) for key in AUTH_CONFIG_KEYS if auth.get(key)}


def auth_key(registry: str) -> str:
    """The key config.json and X-Registry-Config use for a registry."""
    return DOCKER_HUB_AUTH_KEY if registry in DOCKER_HUB_NAMES else registry


def _strip_scheme(key: str) -> str:
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key.split("/", 1)[0]


def default_config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


class DockerConfig:
    """Read-only view of a docker CLI ``config.json``."""

    def __init__(self, config_dir: str | None = None) -> None:
        self.config_dir = config_dir or default_config_dir()
        self.path = os.path.join(self.config_dir, "config.json")
        self._data: Optional[dict] = None

    @property
    def data(self) -> dict:
        if self._data is None:
            self._data = self._load()
        return self._data

    def _load(self) -> dict:
        if os.path.exists(self.config_dir) and not os.path.isdir(self.config_dir):
            # Pointing at config.json itself would otherwise silently mean "no credentials".
            raise InvalidInput("docker_config {0} is not a directory; give the directory that holds config.json "
                               "(for example ~/.docker)".format(self.config_dir))
        if not os.path.exists(self.path):
            return {}
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput("cannot read docker config {0}: {1}".format(self.path, exc))
        if not isinstance(data, dict):
            raise InvalidInput("docker config {0} is not a JSON object".format(self.path))
        return data

    def _entries(self) -> dict:
        auths = self.data.get("auths") or {}
        return {_strip_scheme(key): (key, value) for key, value in auths.items() if isinstance(value, dict)}

    def registries(self) -> list[str]:
        """Every registry this config knows credentials for (auths, credHelpers)."""
        names = set(self._entries())
        names.update((self.data.get("credHelpers") or {}).keys())
        return sorted(names)

    def credentials(self, registry: str) -> AuthConfig | None:
        registry = _strip_scheme(auth_key(registry)) if registry in DOCKER_HUB_NAMES else registry
        key = auth_key(registry)
        # The docker CLI keys credHelpers like auths: Docker Hub under https://index.docker.io/v1/.
        helpers = self.data.get("credHelpers") or {}
        helper = helpers.get(key) or helpers.get(registry) or self.data.get("credsStore")
        if helper:
            found = run_credential_helper(helper, key)
            if found is not None:
                return found
        entry = self._entries().get(_strip_scheme(key))
        if entry is None:
            return None
        original_key, value = entry
        return _decode_auths_entry(original_key, value, self.path)


def _decode_auths_entry(key: str, value: dict, path: str) -> AuthConfig | None:
    auth: AuthConfig = {"serveraddress": key}
    if value.get("auth"):
        try:
            decoded = base64.b64decode(value["auth"]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the 'auth' entry for {0} in {1} is not valid base64 of user:password".format(key, path))
        username, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidInput("the 'auth' entry for {0} in {1} does not hold user:password".format(key, path))
        auth["username"] = username
        auth["password"] = password
    for field in ("username", "password", "email", "identitytoken", "registrytoken"):
        if value.get(field) and field not in auth:
            auth[field] = value[field]
    return auth if len(auth) > 1 else None


def run_credential_helper(helper: str, server: str) -> AuthConfig | None:
    """Ask ``docker-credential-<helper> get`` for a server's credentials; None when it has none."""
    program = "docker-credential-" + helper
    try:
        completed = subprocess.run(
            [program, "get"], input=server.encode("utf-8"), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=CREDENTIAL_HELPER_TIMEOUT, check=False)
    except FileNotFoundError:
        raise CredentialHelperError(
            "credential helper {0} is configured for {1} but was not found on PATH".format(program, server))
    except subprocess.TimeoutExpired:
        raise CredentialHelperError("credential helper {0} did not answer within {1} s".format(
            program, CREDENTIAL_HELPER_TIMEOUT))
    output = completed.stdout.decode("utf-8", "replace").strip()
    if completed.returncode != 0:
        if "credentials not found" in output.lower():
            return None
        # Deliberately not echoing stdout beyond the first line: a misbehaving helper could print secrets.
        reason = (output.splitlines() or ["exit status {0}".format(completed.returncode)])[0][:200]
        raise CredentialHelperError("credential helper {0} failed for {1}: {2}".format(program, server, reason))
    try:
        data = json.loads(output)
    except ValueError:
        raise CredentialHelperError("credential helper {0} returned something that is not JSON".format(program))
    username, secret = data.get("Username", ""), data.get("Secret", "")
    if not secret:
        return None
    auth: AuthConfig = {"serveraddress": data.get("ServerURL") or server}
    if username == "<token>":
        auth["identitytoken"] = secret
    else:
        auth["username"] = username
        auth["password"] = secret
    return auth


class Credentials:
    """Credential lookup for one task: explicit values first, then config.json."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Credentials":
        """Credentials from the registry options of a module (the REGISTRY doc fragment)."""
        return cls(registry_auth=params.get("registry_auth"), docker_config=params.get("docker_config"),
                   registry_auths=params.get("registry_auths"))

    def __init__(self, registry_auth: Mapping[str, Any] | None = None, docker_config: str | None = None,
                 registry_auths: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.explicit = clean_auth(registry_auth) if registry_auth else None
        self.per_registry = {key: clean_auth(value) for key, value in (registry_auths or {}).items()}
        self.config = DockerConfig(docker_config)
        # Every secret this task resolved, and the headers that carry them, for masking in the output.
        self.secrets: set = set()

    def _remember(self, auth: AuthConfig | None) -> AuthConfig | None:
        for key in ("password", "identitytoken", "registrytoken"):
            if auth and auth.get(key):
                self.secrets.add(str(auth[key]))
        return auth

    def for_registry(self, registry: str) -> AuthConfig | None:
        if self.explicit:
            auth = dict(self.explicit)
            auth.setdefault("serveraddress", auth_key(registry))
            return auth
        return self._configured(registry)

    def _configured(self, registry: str) -> AuthConfig | None:
        """Credentials from registry_auths or config.json, never the single per-task registry_auth."""
        for key, value in self.per_registry.items():
            if _strip_scheme(key) == _strip_scheme(auth_key(registry)):
                return dict(value, serveraddress=value.get("serveraddress") or key)
        return self.config.credentials(registry)

    def header_for(self, registry: str) -> str:
        auth = self._remember(self.for_registry(registry))
        header = encode_auth(auth)
        if auth:
            self.secrets.add(header)
        return header

    def build_config_header(self) -> str | None:
        """X-Registry-Config: every registry known to the task, keyed as the engine expects."""
        configs: dict[str, AuthConfig] = {}
        registries = set(self.per_registry) | set(self.config.registries())
        for registry in sorted(registries):
            # Not for_registry: a single registry_auth belongs to one registry and must not be
            # sent along for every other registry the build might touch.
            auth = self._remember(self._configured(_strip_scheme(registry)))
            if auth:
                configs[auth_key(_strip_scheme(registry))] = auth
        header = encode_header(configs) if configs else None
        if header:
            self.secrets.add(header)
        return header
