#!/usr/bin/python
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_login
short_description: Check registry credentials through the engine and store them as the docker CLI does
version_added: 0.1.0
description:
  - Checks a user name and password with a registry through the engine (C(POST /auth)) and, with O(store=true),
    stores them where the docker CLI would (C(docker login)) - the credential helper C(config.json) names for the
    registry (C(credHelpers)), else its C(credsStore), else the C(auths) section of C(config.json) (file mode 0600).
  - Idempotent - when the same user name and password are already stored for the registry, nothing is checked or
    written unless O(reauthorize=true). The task reports a change only when what is stored changes.
  - With O(state=absent), removes the stored login (C(docker logout)).
  - Option names follow community.docker's C(docker_login).
  - The password never appears in output, in a command line, or in an error.
author:
  - moby.engine contributors (@moby-engine)
extends_documentation_fragment:
  - moby.engine.engine
  - moby.engine.engine.ACTION_ATTRIBUTES
options:
  registry_url:
    description:
      - The registry, as V(host[:port]) or a URL (a scheme and a path are ignored). Docker Hub when not given.
    type: str
    default: https://index.docker.io/v1/
    aliases: [registry, url]
  username:
    description: User name for the registry. Required with O(state=present).
    type: str
  password:
    description: Password or access token for O(username). Required with O(state=present).
    type: str
  reauthorize:
    description: Check (and store) the credentials even when the same ones are already stored.
    type: bool
    default: false
    aliases: [reauth]
  store:
    description:
      - Store the checked credentials. With V(false) the task only checks them with the registry and reports
        no change.
    type: bool
    default: true
  config_path:
    description:
      - The docker CLI's C(config.json) to read and write, or the directory that holds it.
      - Defaults to C(config.json) in E(DOCKER_CONFIG), else C(~/.docker/config.json), of the user the module runs as.
    type: path
    aliases: [docker_config, dockercfg_path]
  state:
    description: V(present) logs in, V(absent) logs out.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The credentials are checked by the engine, so the engine must reach the registry as pulls would.
  - Only the user name and password are compared with what is stored; a password changed at the registry is
    noticed with O(reauthorize=true).
seealso:
  - module: moby.engine.image_pull
  - module: moby.engine.image_push
"""

EXAMPLES = r"""
- name: Log in to the team registry (stored in the credential helper config.json names, else in config.json)
  moby.engine.registry_login:
    registry_url: registry.example.com
    username: deploy
    password: "{{ vault_registry_password }}"

- name: Check a token without storing it
  moby.engine.registry_login:
    registry_url: registry.example.com:5000
    username: ci
    password: "{{ ci_token }}"
    store: false

- name: Log out of Docker Hub
  moby.engine.registry_login:
    state: absent
"""

RETURN = r"""
registry:
  description: The registry, as the docker CLI keys it in C(config.json).
  returned: always
  type: str
  sample: registry.example.com
stored_in:
  description: Where the login is (or, in check mode, would be) stored or erased - a C(config.json) path or a credential helper.
  returned: when something is stored or erased
  type: str
  sample: /root/.docker/config.json
login_status:
  description: The engine's answer to the check (C(Status)).
  returned: when the credentials were checked
  type: str
  sample: Login Succeeded
reason:
  description: Why the task changed (or in check mode would change) something, or did not.
  returned: always
  type: str
  sample: the same credentials are already stored
"""

import os

from ansible_collections.moby.engine.plugins.module_utils._auth import HELPER_PREFIX, DockerConfig, auth_key
from ansible_collections.moby.engine.plugins.module_utils._common import Task, run_module

OPTIONS = {
    "registry_url": {"type": "str", "default": "https://index.docker.io/v1/", "aliases": ["registry", "url"]},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "reauthorize": {"type": "bool", "default": False, "aliases": ["reauth"]},
    "store": {"type": "bool", "default": True},
    "config_path": {"type": "path", "aliases": ["docker_config", "dockercfg_path"]},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}


def config_dir(path: str | None) -> str | None:
    """The directory of ``config_path``, which may name config.json itself (as docker_login's does)."""
    if path and (path.endswith(".json") or os.path.isfile(path)):
        return os.path.dirname(path) or "."
    return path


def decide(stored: dict | None, params: dict) -> tuple:
    """The idempotency decision: (check with the registry?, store or erase?, why)."""
    if params["state"] == "absent":
        return False, stored is not None, "a login is stored" if stored else "no login is stored"
    same = stored is not None and stored.get("username") == params["username"] and \
        stored.get("password") == params["password"]
    if same and not params["reauthorize"]:
        return False, False, "the same credentials are already stored"
    if not params["store"]:
        return True, False, "store is false: the credentials are only checked"
    return True, not same, "the same credentials are stored; reauthorize checks them again" if same else \
        "other credentials, or none, are stored"


def run(task: Task) -> dict:
    params = task.params
    config = DockerConfig(config_dir(params["config_path"]))
    registry = auth_key(params["registry_url"])
    stored = config.credentials(registry)
    task.keep_secret(config)
    check, write, reason = decide(stored, params)
    before = (stored or {}).get("username")
    after = (None if params["state"] == "absent" else params["username"]) if write else before
    result = {"changed": write, "registry": registry, "reason": reason,
              "diff": {"before": {"registry": registry, "username": before},
                       "after": {"registry": registry, "username": after}}}
    if check:
        answer = task.client.login({"username": params["username"], "password": params["password"],
                                    "serveraddress": registry})
        result["login_status"] = answer.get("Status")
    if write:
        helper = config.helper_for(registry)
        result["stored_in"] = HELPER_PREFIX + helper if helper else config.path
        if not task.check_mode and params["state"] == "absent":
            config.erase_login(registry)
        elif not task.check_mode:
            config.store_login(registry, params["username"], params["password"])
    return result


def main() -> None:
    run_module(OPTIONS, run, "Logging in to {registry_url} failed: {error}",
               required_if=[("state", "present", ("username", "password"))])


if __name__ == "__main__":
    main()
