# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Docker contexts, resolved and read as the docker CLI does.

Which context applies: the ``docker_context`` option; else none when an engine address is given
(``docker_host`` or DOCKER_HOST); else DOCKER_CONTEXT; else ``currentContext`` in config.json; else
none. A context lives in the CLI's configuration directory (DOCKER_CONFIG, or ~/.docker): its
endpoint in ``contexts/meta/<sha256 of the name>/meta.json``, its TLS material in
``contexts/tls/<sha256 of the name>/docker/{ca,cert,key}.pem``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Optional

from ansible_collections.moby.engine.plugins.module_utils._errors import InvalidInput

DEFAULT_CONTEXT = "default"
# Context files are small; refuse to read a "meta.json" the size of a disk.
_MAX_FILE_SIZE = 1024 * 1024


@dataclass(frozen=True)
class ContextEndpoint:
    """The docker endpoint of a context: where the engine is and the TLS material to reach it."""

    name: str
    host: str
    skip_tls_verify: bool = False
    ca_path: Optional[str] = None
    client_cert: Optional[str] = None
    client_key: Optional[str] = None

    @property
    def has_tls(self) -> bool:
        return bool(self.ca_path or self.client_cert)


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def context_name(explicit: Optional[str], host_given: bool, directory: str) -> Optional[str]:
    """The context that applies, or None for the plain engine address (the CLI's "default" context)."""
    if explicit:
        name = explicit
    elif host_given:
        return None
    else:
        name = os.environ.get("DOCKER_CONTEXT") or _current_context(directory)
    return None if not name or name == DEFAULT_CONTEXT else name


def _current_context(directory: str) -> Optional[str]:
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        return None
    name = _read_json(path, "config.json").get("currentContext")
    return name if isinstance(name, str) else None


def load_context(name: str, directory: str) -> ContextEndpoint:
    """The docker endpoint of context ``name``; raise InvalidInput saying what is missing."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    meta_path = os.path.join(directory, "contexts", "meta", digest, "meta.json")
    if not os.path.isfile(meta_path):
        raise InvalidInput("docker context {0!r} does not exist in {1} (no {2}); 'docker context ls' lists the "
                           "contexts there".format(name, directory, meta_path))
    endpoint = (_read_json(meta_path, "context {0!r}".format(name)).get("Endpoints") or {}).get("docker") or {}
    host = endpoint.get("Host") if isinstance(endpoint, dict) else None
    if not isinstance(host, str) or not host:
        raise InvalidInput("docker context {0!r} has no docker endpoint host in {1}".format(name, meta_path))
    tls_dir = os.path.join(directory, "contexts", "tls", digest, "docker")
    files = {key: os.path.join(tls_dir, file_name) for key, file_name in
             (("ca_path", "ca.pem"), ("client_cert", "cert.pem"), ("client_key", "key.pem"))}
    return ContextEndpoint(name=name, host=host, skip_tls_verify=bool(endpoint.get("SkipTLSVerify")),
                           **{key: path if os.path.isfile(path) else None for key, path in files.items()})


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as source:
            data = source.read(_MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise InvalidInput("cannot read {0} ({1}): {2}".format(what, path, exc.strerror or exc))
    if len(data) > _MAX_FILE_SIZE:
        raise InvalidInput("{0} ({1}) is larger than {2} bytes".format(what, path, _MAX_FILE_SIZE))
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise InvalidInput("{0} ({1}) is not valid JSON: {2}".format(what, path, exc))
    if not isinstance(parsed, dict):
        raise InvalidInput("{0} ({1}) is not a JSON object".format(what, path))
    return parsed
