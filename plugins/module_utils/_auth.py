# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Registry credentials: where they come from, which registry they go to, and how the engine wants them.

Each registry gets only its own credentials.  For one registry the first of these applies:

1. ``registry_auth``, when it is for that registry: the one its ``serveraddress`` names, or, without
   ``serveraddress``, the one registry the task names (a task naming several is refused);
2. ``registry_auths[registry]``;
3. ``config.json`` in ``docker_config``, as the docker CLI reads it: a credential helper
   (``credHelpers[registry]``, else ``credsStore``) when one is configured, else ``auths[registry]``.

Otherwise the registry is accessed anonymously.  Every secret resolved on the way, and every header
built from one, is collected in ``Credentials.secrets`` so the module can mask it; no error message
carries a credential, nor anything a credential helper printed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Dict, Optional, Set, Tuple

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput, MobyEngineError

AuthConfig = Dict[str, str]

AUTH_CONFIG_KEYS = ("username", "password", "email", "serveraddress", "identitytoken", "registrytoken")
SECRET_KEYS = ("password", "identitytoken", "registrytoken")
CREDENTIAL_KEYS = ("username", "password", "identitytoken", "registrytoken")
DOCKER_HUB = "docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB_AUTH_KEY)
_DOCKER_HUB_HOSTS = frozenset(("docker.io", "index.docker.io", "registry-1.docker.io"))
CREDENTIAL_HELPER_TIMEOUT = 30
HELPER_PREFIX = "docker-credential-"
# The message docker-credential-helpers standardise for "nothing stored for this server".
HELPER_NOT_FOUND_MESSAGE = "credentials not found in native keychain"
EMPTY_AUTH_HEADER = "e30="


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


def secret_values(auth: Mapping[str, Any] | None) -> Set[str]:
    """The secret values of one auth config (never user names, e-mails or addresses)."""
    return {str(auth[key]) for key in SECRET_KEYS if auth and auth.get(key)}


def _host(name: str) -> str:
    # As the docker CLI's ConvertToHostname: config.json keys may be URLs with a scheme and a path.
    name = name.strip()
    if "://" in name:
        name = name.split("://", 1)[1]
    return name.split("/", 1)[0]


def normalize_registry(name: str) -> str:
    """host[:port] of a registry name, URL or config.json key; ``docker.io`` for every spelling of Docker Hub."""
    host = _host(name)
    return DOCKER_HUB if host.lower() in _DOCKER_HUB_HOSTS else host


def auth_key(registry: str) -> str:
    """The key config.json and X-Registry-Config use for a registry."""
    name = normalize_registry(registry)
    return DOCKER_HUB_AUTH_KEY if name == DOCKER_HUB else name


def validate_auth(value: Any, option: str) -> AuthConfig:
    """One dict of credentials from the task, checked; messages name keys, never values."""
    if not isinstance(value, Mapping):
        raise InvalidInput("{0} must be a dict of credentials ({1}), got {2}".format(
            option, ", ".join(AUTH_CONFIG_KEYS), type(value).__name__))
    unknown = sorted(str(key) for key in value if key not in AUTH_CONFIG_KEYS)
    if unknown:
        raise InvalidInput("{0} has unknown keys {1}; allowed are {2}".format(
            option, ", ".join(unknown), ", ".join(AUTH_CONFIG_KEYS)))
    for key, item in value.items():
        if isinstance(item, (Mapping, list, tuple, set, bool)):
            raise InvalidInput("{0}.{1} must be a string, got {2}".format(option, key, type(item).__name__))
    return clean_auth(value)


def validate_helper_name(helper: Any, where: str) -> str:
    """A credential helper's name from config.json, refused when it would not be a plain lookup on PATH."""
    if not isinstance(helper, str) or not helper:
        raise InvalidInput("{0} names no credential helper (an empty or non-string value); give the helper's name, "
                           "for example 'pass' for docker-credential-pass, or remove the entry".format(where))
    if "/" in helper or "\\" in helper or helper.startswith(".") or "\0" in helper:
        # docker-credential-<name> with a path separator would be run relative to the module's working directory.
        raise InvalidInput("{0} names the credential helper {1!r}, which is not a plain program name: it must not "
                           "contain '/' or '\\' nor start with '.', so that docker-credential-{1} is looked up on "
                           "PATH only".format(where, helper))
    return helper


def default_config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


class DockerConfig:
    """A docker CLI ``config.json``: read for credentials (``secrets`` holds every secret read from it), and
    written by registry_login as the docker CLI writes it."""

    def __init__(self, config_dir: str | None = None) -> None:
        self.config_dir = config_dir or default_config_dir()
        self.path = os.path.join(self.config_dir, "config.json")
        self._data: Optional[dict] = None
        self.secrets: Set[str] = set()

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
        except UnicodeDecodeError:
            # Not the codec's message: it quotes the offending byte, which may be part of a secret.
            raise InvalidInput("cannot read docker config {0}: it is not UTF-8".format(self.path)) from None
        except (OSError, ValueError) as exc:
            # JSON errors name a position, never the text around it.
            raise InvalidInput("cannot read docker config {0}: {1}".format(self.path, exc)) from None
        if not isinstance(data, dict):
            raise InvalidInput("docker config {0} is not a JSON object".format(self.path))
        return data

    def reload(self) -> None:
        self._data = None

    def store_login(self, registry: str, username: str, secret: str) -> None:
        """Store a login where the docker CLI would: the registry's credential helper, else the credsStore, else
        ``auths`` (base64 of user:password, file mode 0600)."""
        key = auth_key(registry)
        helper = self.helper_for(registry)
        if helper:
            data = json.dumps({"ServerURL": key, "Username": username, "Secret": secret}).encode("utf-8")
            returncode, dummy = _run_helper(helper, "store", data, key, self.path)
            if returncode != 0:
                raise _helper_failure(helper, "store", key, returncode, self.path)
            return
        encoded = base64.b64encode("{0}:{1}".format(username, secret).encode("utf-8")).decode("ascii")
        self._write(lambda data: data.setdefault("auths", {}).update({key: {"auth": encoded}}))

    def erase_login(self, registry: str) -> None:
        """Remove a stored login from wherever store_login() put it."""
        key = auth_key(registry)
        helper = self.helper_for(registry)
        if helper:
            returncode, output = _run_helper(helper, "erase", key.encode("utf-8"), key, self.path)
            if returncode != 0 and HELPER_NOT_FOUND_MESSAGE not in output:
                raise _helper_failure(helper, "erase", key, returncode, self.path)
            return
        found = self._find(self._section("auths"), registry)
        if found:
            self._write(lambda data: data["auths"].pop(found[0], None))

    def _write(self, change: Any) -> None:
        data = json.loads(json.dumps(self.data))
        change(data)
        os.makedirs(self.config_dir, mode=0o700, exist_ok=True)
        text = json.dumps(data, indent="\t").encode("utf-8") + b"\n"
        # Written whole or not at all, and never readable by others while it holds credentials.
        temporary = "{0}.{1}.tmp".format(self.path, os.getpid())
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise InvalidInput("cannot write {0}: {1}".format(self.path, exc.strerror or exc)) from None
        self.reload()

    def _section(self, name: str) -> dict:
        value = self.data.get(name) or {}
        if not isinstance(value, dict):
            raise InvalidInput("'{0}' in docker config {1} is not a JSON object".format(name, self.path))
        return value

    def _find(self, section: dict, registry: str) -> Tuple[str, Any] | None:
        """The entry for a registry: under its exact key first, then under any spelling of the same host."""
        key = auth_key(registry)
        if key in section:
            return key, section[key]
        name = normalize_registry(registry)
        for candidate in sorted(section):
            if isinstance(candidate, str) and normalize_registry(candidate) == name:
                return candidate, section[candidate]
        return None

    def registries(self) -> list[str]:
        """Every registry this config names credentials for (auths, credHelpers), normalised."""
        names = {normalize_registry(key) for key in self._section("auths")}
        names.update(normalize_registry(key) for key in self._section("credHelpers"))
        names.discard("")
        return sorted(names)

    def helper_for(self, registry: str) -> str | None:
        """The credential helper the docker CLI would run for a registry: credHelpers, else credsStore."""
        found = self._find(self._section("credHelpers"), registry)
        if found is not None:
            return validate_helper_name(found[1], "credHelpers[{0!r}] in {1}".format(found[0], self.path))
        store = self.data.get("credsStore")
        if store is None or store == "":
            return None
        return validate_helper_name(store, "credsStore in {0}".format(self.path))

    def credentials(self, registry: str) -> AuthConfig | None:
        key = auth_key(registry)
        helper = self.helper_for(registry)
        if helper:
            # As the docker CLI: with a helper configured, its answer is the answer; "not found" means anonymous,
            # not a fall back to auths (which then holds at most an e-mail).
            found = run_credential_helper(helper, key, source=self.path)
            self.secrets.update(secret_values(found))
            return found
        entry = self._find(self._section("auths"), registry)
        if entry is None:
            return None
        original_key, value = entry
        return self._decode_entry(original_key, value)

    def _decode_entry(self, key: str, value: Any) -> AuthConfig | None:
        where = "the entry {0!r} of 'auths' in {1}".format(key, self.path)
        if not isinstance(value, dict):
            raise InvalidInput("{0} is not a JSON object (of auth, identitytoken, ...)".format(where))
        for field in ("auth",) + AUTH_CONFIG_KEYS:
            if value.get(field) is not None and not isinstance(value[field], str):
                raise InvalidInput("{0}: '{1}' is not a string".format(where, field))
        auth: AuthConfig = {}
        for field in ("username", "password", "email", "identitytoken", "registrytoken"):
            if value.get(field):
                auth[field] = value[field]
        encoded = value.get("auth")
        if encoded:
            self.secrets.add(encoded)
            auth["username"], auth["password"] = _decode_user_password(encoded, where)
        self.secrets.update(secret_values(auth))
        if not any(auth.get(field) for field in CREDENTIAL_KEYS):
            return None
        # The docker CLI sends an auths entry with its key as serveraddress, scheme and all.
        auth["serveraddress"] = key
        return auth


def _decode_user_password(encoded: str, where: str) -> Tuple[str, str]:
    # Go's base64 decoder, which the docker CLI uses, skips line breaks but nothing else.
    try:
        decoded = base64.b64decode(encoded.replace("\r", "").replace("\n", ""), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("{0}: 'auth' is not valid base64 of user:password".format(where)) from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise InvalidInput("{0}: 'auth' does not hold user:password".format(where))
    return username, password.strip("\0")


def _stop_process_group(process: subprocess.Popen) -> None:
    # The helper may have started children (gpg, a keychain agent) that hold its pipes open; stop them all.
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        # Something left the group and keeps a pipe open: abandon the pipes rather than hang the module.
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()


def _run_helper(helper: str, action: str, data: bytes, server: str, source: str | None) -> Tuple[int, str]:
    """(exit status, output) of ``docker-credential-<helper> <action>`` given ``data`` on stdin.

    Nothing the helper prints ever goes into a message: a failing helper may well have printed the secret.
    """
    validate_helper_name(helper, "credential helper configured for {0}".format(server))
    program = HELPER_PREFIX + helper
    remedy = "fix or remove it in {0}".format(source) if source else "fix its configuration"
    timeout = CREDENTIAL_HELPER_TIMEOUT
    try:
        process = subprocess.Popen([program, action], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        raise CredentialHelperError(
            "credential helper {0} is configured for {1} but was not found on PATH; install it for the user the "
            "module runs as on the managed host, or {2}".format(program, server, remedy)) from None
    except PermissionError:
        raise CredentialHelperError(
            "credential helper {0} is configured for {1} but is not executable by the user the module runs as; "
            "check its permissions, or {2}".format(program, server, remedy)) from None
    except OSError as exc:
        raise CredentialHelperError("credential helper {0} is configured for {1} but could not be started ({2}); "
                                    "{3}".format(program, server, exc.strerror or type(exc).__name__, remedy)) from None
    try:
        stdout, dummy = process.communicate(input=data, timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_process_group(process)
        raise CredentialHelperError(
            "credential helper {0} did not answer within {1} s for {2} and was stopped; a helper waiting for a "
            "password, an unlock or a touch cannot be answered by a module: unlock the store on the managed host, "
            "or {3}".format(program, timeout, server, remedy)) from None
    return process.returncode, stdout.decode("utf-8", "replace").strip()


def _helper_failure(helper: str, action: str, server: str, returncode: int, source: str | None) -> CredentialHelperError:
    program = HELPER_PREFIX + helper
    remedy = "fix or remove it in {0}".format(source) if source else "fix its configuration"
    status = "killed by signal {0}".format(-returncode) if returncode < 0 else "exit status {0}".format(returncode)
    return CredentialHelperError(
        "credential helper {0} failed for {1} ({2}); its output is not shown, as it may hold credentials. "
        "Run '{0} {3}' on the managed host as the user the module runs as, with {1} on its standard input, "
        "to see why; or {4}".format(program, server, status, action, remedy))


def run_credential_helper(helper: str, server: str, source: str | None = None) -> AuthConfig | None:
    """Ask ``docker-credential-<helper> get`` for a server's credentials; None when it has none."""
    program = HELPER_PREFIX + helper
    returncode, output = _run_helper(helper, "get", server.encode("utf-8"), server, source)
    if returncode != 0:
        if HELPER_NOT_FOUND_MESSAGE in output:
            return None
        raise _helper_failure(helper, "get", server, returncode, source)
    try:
        data = json.loads(output)
    except ValueError:
        raise CredentialHelperError("credential helper {0} answered for {1} with something that is not JSON "
                                    "(not shown, as it may hold credentials)".format(program, server)) from None
    if not isinstance(data, dict):
        raise CredentialHelperError("credential helper {0} answered for {1} with a JSON {2}, not an object with "
                                    "Username and Secret".format(program, server, type(data).__name__))
    username, secret = data.get("Username") or "", data.get("Secret") or ""
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialHelperError("credential helper {0} answered for {1} with a Username or Secret that is not "
                                    "a string".format(program, server))
    if not secret:
        return None
    # The server asked for, not the helper's ServerURL: the docker CLI does the same.
    auth: AuthConfig = {"serveraddress": server}
    if username == "<token>":
        auth["identitytoken"] = secret
    else:
        auth["username"] = username
        auth["password"] = secret
    return auth


def parse_registry_auths(value: Any) -> Dict[str, AuthConfig]:
    """``registry_auths`` checked and keyed by normalised registry (``docker.io`` for Docker Hub)."""
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("registry_auths must be a dict of registry to credentials, got {0}".format(
            type(value).__name__))
    parsed: Dict[str, AuthConfig] = {}
    spelled: Dict[str, str] = {}
    for key, creds in value.items():
        registry = normalize_registry(key) if isinstance(key, str) else ""
        if not registry:
            raise InvalidInput("registry_auths has a key that names no registry ({0!r}); give host[:port], "
                               "for example registry.example.com:5000 or docker.io".format(key))
        if registry in spelled:
            raise InvalidInput("registry_auths has both {0!r} and {1!r}, which name the same registry ({2}); "
                               "keep one".format(spelled[registry], key, registry))
        auth = validate_auth(creds, "registry_auths.{0}".format(key))
        server = auth.get("serveraddress")
        if server and normalize_registry(server) != registry:
            raise InvalidInput("registry_auths.{0}.serveraddress names another registry ({1}) than its key; the key "
                               "says which registry the credentials go to, so drop serveraddress".format(
                                   key, normalize_registry(server)))
        spelled[registry] = key
        parsed[registry] = auth
    return parsed


class Credentials:
    """Credential lookup for one task: each registry gets its own credentials, and only those.

    ``registries`` are the registries the task names (its images' registries, or the index searched);
    a ``registry_auth`` without ``serveraddress`` belongs to the only one of them, and is refused when there
    are several or none.  ``warnings`` holds what the module should warn about; ``secrets`` every secret
    resolved so far and every header value built from one.
    """

    @classmethod
    def from_params(cls, params: Mapping[str, Any], registries: Iterable[str] | None = None) -> "Credentials":
        """Credentials from the registry options of a module (registry_auth, registry_auths, docker_config)."""
        return cls(registry_auth=params.get("registry_auth"), docker_config=params.get("docker_config"),
                   registry_auths=params.get("registry_auths"), registries=registries)

    def __init__(self, registry_auth: Mapping[str, Any] | None = None, docker_config: str | None = None,
                 registry_auths: Mapping[str, Mapping[str, Any]] | None = None,
                 registries: Iterable[str] | None = None) -> None:
        self.config = DockerConfig(docker_config)
        self.registries = frozenset(name for name in (normalize_registry(item) for item in registries or ()) if name)
        self.warnings: list[str] = []
        self._secrets: Set[str] = set()
        self._cache: Dict[str, Optional[AuthConfig]] = {}
        # Parallel pulls share one Credentials; a helper should run once per registry, not once per thread.
        self._lock = threading.RLock()
        # An entry without credentials (only an e-mail, say) must not hide config.json's for that registry.
        self.per_registry = {name: auth for name, auth in parse_registry_auths(registry_auths).items()
                             if any(auth.get(key) for key in CREDENTIAL_KEYS)}
        for auth in self.per_registry.values():
            self._secrets.update(secret_values(auth))
        self.explicit: AuthConfig | None = None
        self.explicit_registry: str | None = None
        if registry_auth:
            auth = validate_auth(registry_auth, "registry_auth")
            self._secrets.update(secret_values(auth))
            if any(auth.get(key) for key in CREDENTIAL_KEYS):
                self.explicit_registry = self._explicit_registry(auth)
                self.explicit = auth

    def _explicit_registry(self, auth: AuthConfig) -> str:
        named = sorted(self.registries)
        if auth.get("serveraddress"):
            registry = normalize_registry(auth["serveraddress"])
            if not registry:
                raise InvalidInput("registry_auth.serveraddress names no registry; give host[:port], for example "
                                   "registry.example.com:5000 or docker.io")
            if named and registry not in self.registries:
                self.warnings.append("registry_auth.serveraddress names {0}, but this task uses only {1}; registry_auth "
                                     "is sent to {0} only, so it is not used".format(registry, ", ".join(named)))
            return registry
        if len(named) == 1:
            return named[0]
        if named:
            raise InvalidInput("registry_auth has no serveraddress, but this task uses several registries ({0}); "
                               "set registry_auth.serveraddress to the registry these credentials are for (they are "
                               "sent to that registry only), or give registry_auths, a dict of registry to "
                               "credentials".format(", ".join(named)))
        raise InvalidInput("registry_auth has no serveraddress, and this task does not tell which registry it is for "
                           "(a build may pull from several); set registry_auth.serveraddress to the registry these "
                           "credentials are for, or give registry_auths, a dict of registry to credentials")

    @property
    def secrets(self) -> Set[str]:
        with self._lock:
            return set(self._secrets) | set(self.config.secrets)

    def for_registry(self, registry: str) -> AuthConfig | None:
        name = normalize_registry(registry)
        if self.explicit and name == self.explicit_registry:
            auth = dict(self.explicit)
            auth.setdefault("serveraddress", auth_key(name))
            return auth
        if name in self.per_registry:
            auth = dict(self.per_registry[name])
            auth.setdefault("serveraddress", auth_key(name))
            return auth
        with self._lock:
            if name not in self._cache:
                self._cache[name] = self.config.credentials(name)
            found = self._cache[name]
        return dict(found) if found else None

    def header_for(self, registry: str) -> str:
        """X-Registry-Auth for one registry: its own credentials, or ``{}``."""
        auth = self.for_registry(registry)
        header = encode_auth(auth)
        self._keep_header(header, auth)
        return header

    def build_config_header(self) -> str | None:
        """X-Registry-Config: one entry per registry, each with that registry's own credentials, keyed as the engine expects."""
        names = set(self.per_registry) | set(self.config.registries()) | set(self.registries)
        if self.explicit_registry:
            names.add(self.explicit_registry)
        configs: Dict[str, AuthConfig] = {}
        for name in sorted(names):
            auth = self.for_registry(name)
            if auth:
                configs[auth_key(name)] = clean_auth(auth)
        if not configs:
            return None
        header = encode_header(configs)
        self._keep_header(header, *configs.values())
        return header

    def _keep_header(self, header: str, *auths: AuthConfig | None) -> None:
        if any(secret_values(auth) for auth in auths):
            with self._lock:
                self._secrets.add(header)
