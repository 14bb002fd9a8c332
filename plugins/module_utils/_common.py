# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every module shares: its common options, the client built from them, diff helpers, and the runner.

The argument specs here match the doc fragments ``moby.engine.engine`` and
``moby.engine.registry`` option for option.  ``run_module`` is every module's ``main()``: it
builds the AnsibleModule, connects, checks the module's requirements table against the engine,
calls the module's ``run``, and turns the collection's exceptions into ``fail_json`` once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from ansible.module_utils.basic import AnsibleFallbackNotFound, AnsibleModule

from ansible_collections.moby.engine.plugins.module_utils._client import EngineClient
from ansible_collections.moby.engine.plugins.module_utils._engines import Requirement, unmet_requirement
from ansible_collections.moby.engine.plugins.module_utils._errors import (
    InvalidInput,
    MissingLibrary,
    MobyEngineError,
    StreamError,
)
from ansible_collections.moby.engine.plugins.module_utils._transport import (
    DEFAULT_DOCKER_HOST,
    DEFAULT_TIMEOUT,
    EngineConfig,
)


def env_value(*names: str) -> str:
    """The first of the environment variables that is set and not empty (the docker CLI ignores empty ones)."""
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    raise AnsibleFallbackNotFound


def env_flag(*names: str) -> bool:
    """True when one of the variables is set to anything but the empty string, as the docker CLI reads
    DOCKER_TLS and DOCKER_TLS_VERIFY (so DOCKER_TLS_VERIFY=0 still means verify)."""
    env_value(*names)
    return True


ENGINE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    # No default here: an address given (or DOCKER_HOST) wins over DOCKER_CONTEXT and the current context,
    # so "not given" must stay visible; engine_config() falls back to DEFAULT_DOCKER_HOST.
    "docker_host": {"type": "str", "aliases": ["docker_url"], "fallback": (env_value, ["DOCKER_HOST"])},
    "docker_context": {"type": "str", "aliases": ["context"]},
    "tls": {"type": "bool", "default": False, "fallback": (env_flag, ["DOCKER_TLS"])},
    "validate_certs": {"type": "bool", "aliases": ["tls_verify"], "fallback": (env_flag, ["DOCKER_TLS_VERIFY"])},
    "ca_path": {"type": "path", "aliases": ["ca_cert", "cacert_path", "tls_ca_cert"]},
    "client_cert": {"type": "path", "aliases": ["tls_client_cert", "cert_path"]},
    "client_key": {"type": "path", "aliases": ["tls_client_key", "key_path"]},
    "tls_hostname": {"type": "str", "fallback": (env_value, ["DOCKER_TLS_HOSTNAME"])},
    "api_version": {"type": "str", "default": "auto", "aliases": ["docker_api_version"],
                    "fallback": (env_value, ["DOCKER_API_VERSION"])},
    "timeout": {"type": "int", "default": DEFAULT_TIMEOUT, "fallback": (env_value, ["DOCKER_TIMEOUT"])},
    "ssh_config": {"type": "path"},
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
    # no_log keeps the whole dict out of the invocation log; run_module then narrows the masking to the
    # secrets, so that registry and user names do not blank out image names in the output.
    "registry_auths": {"type": "dict", "no_log": True},
    "docker_config": {"type": "path", "fallback": (env_value, ["DOCKER_CONFIG"])},
}

SECRET_AUTH_KEYS = ("password", "identitytoken", "registrytoken")

_CERT_FILES = {"ca_path": "ca.pem", "client_cert": "cert.pem", "client_key": "key.pem"}


def argument_spec(own: Mapping[str, dict[str, Any]], registry: bool = False) -> dict[str, dict[str, Any]]:
    """A module's full argument spec: its own options plus the shared ones."""
    spec = dict(ENGINE_ARGUMENT_SPEC)
    if registry:
        spec.update(REGISTRY_ARGUMENT_SPEC)
    spec.update(own)
    return spec


def cert_dir() -> str:
    """Where the docker CLI looks for ca.pem, cert.pem and key.pem: DOCKER_CERT_PATH, else its config directory."""
    return os.environ.get("DOCKER_CERT_PATH") or os.environ.get("DOCKER_CONFIG") or os.path.join(
        os.path.expanduser("~"), ".docker")


def engine_config(params: Mapping[str, Any]) -> EngineConfig:
    """EngineConfig from module params and the docker context that applies, as the docker CLI resolves them."""
    context = None
    # An address given (docker_host or DOCKER_HOST) without docker_context means no context applies: _contexts is
    # imported only when one may, so that a task that names its engine does not pay for it (module start cost,
    # issue #16).
    if params.get("docker_context") or params.get("docker_host") is None:
        from ansible_collections.moby.engine.plugins.module_utils._contexts import config_dir, context_name, load_context
        directory = config_dir()
        name = context_name(params.get("docker_context"), params.get("docker_host") is not None, directory)
        context = load_context(name, directory) if name else None
    host = context.host if context else params.get("docker_host") or DEFAULT_DOCKER_HOST
    validate_certs = params["validate_certs"]
    if validate_certs is None and context is not None and context.has_tls:
        validate_certs = not context.skip_tls_verify
    use_tls = params["tls"] or bool(validate_certs) or host.startswith("https:") or bool(context and context.has_tls)
    paths = {}
    for option, filename in _CERT_FILES.items():
        paths[option] = params.get(option) or (getattr(context, option) if context else None)
        if not paths[option] and use_tls and not context and os.path.exists(os.path.join(cert_dir(), filename)):
            paths[option] = os.path.join(cert_dir(), filename)
    return EngineConfig(
        docker_host=host,
        tls=bool(use_tls),
        validate_certs=validate_certs,
        ca_path=paths["ca_path"],
        client_cert=paths["client_cert"],
        client_key=paths["client_key"],
        tls_hostname=params.get("tls_hostname"),
        api_version=params["api_version"],
        timeout=params["timeout"],
        ssh_config=params.get("ssh_config"),
    )


def connect(params: Mapping[str, Any]) -> EngineClient:
    return EngineClient(engine_config(params))


def prune_reason(count: int, check_mode: bool, what: str) -> str:
    """Why a prune changed something or not: the decision is the engine's own, a change when it deletes anything."""
    if not count:
        return "no {0} matches".format(what)
    return "{0} {1}(s) {2}".format(count, what, "would be removed" if check_mode else "removed by the engine")


def image_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """A diff of one image's identity (id and tags), for diff mode."""
    return {"before": _identity(before), "after": _identity(after)}


def _identity(image: Mapping[str, Any] | None) -> dict[str, Any]:
    if not image:
        return {"exists": False}
    return {"exists": True, "id": image.get("Id"), "tags": sorted(image.get("RepoTags") or []),
            "digests": sorted(image.get("RepoDigests") or [])}


# -- the runner --------------------------------------------------------------


@dataclass
class Task:
    """What a module's ``run`` works with: the client, the validated options, check mode, and warnings."""

    client: EngineClient
    params: Mapping[str, Any]
    check_mode: bool
    warnings: list = field(default_factory=list)
    # Credentials (objects with ``secrets`` and ``warnings``): every value they resolved is masked in the output,
    # and what they noticed (credentials given for a registry the task does not use) is reported.
    secret_sources: list = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def keep_secret(self, source: Any) -> Any:
        self.secret_sources.append(source)
        return source


def requirement_applies(selector: str, params: Mapping[str, Any]) -> bool:
    """Whether the user set what a requirements-table key names.

    ``*`` is the whole module; ``option=value`` one choice; ``option.key`` a key of a dict option;
    ``option`` any value but unset, false or empty.
    """
    if selector == "*":
        return True
    if "=" in selector:
        option, _sep, value = selector.partition("=")
        return str(params.get(option)) == value
    if "." in selector:
        option, _sep, key = selector.partition(".")
        return isinstance(params.get(option), Mapping) and key in params[option]
    return params.get(selector) not in (None, False, "", [], {})


def check_requirements(client: EngineClient, requires: Mapping[str, Requirement], params: Mapping[str, Any],
                       labels: Mapping[str, str]) -> None:
    """Raise for the first option the user set that this engine cannot honour."""
    for selector, requirement in requires.items():
        if not requirement_applies(selector, params):
            continue
        engine = client.engine
        error = unmet_requirement(engine.identity, engine.api_version, engine.engine_api_version, requirement,
                                  labels.get(selector, selector), client.config.docker_host)
        if error is not None:
            raise error


# (params, error text) -> message; typing's Callable, since collections.abc types cannot be subscribed at run time on 3.8.
Failure = Union[str, Callable[[Any, str], str]]


def failure_message(failure: Failure, params: Mapping[str, Any], error: str) -> str:
    """The failure message: ``failure`` formatted with the options (lists joined by commas) and ``{error}``."""
    if callable(failure):
        return failure(params, error)
    values = {key: ", ".join(str(item) for item in value) if isinstance(value, list) else value
              for key, value in params.items()}
    values["error"] = error
    return failure.format(**values)


def check_minimums(minimums: Mapping[str, int], params: Mapping[str, Any]) -> None:
    for option, minimum in minimums.items():
        if params.get(option) is not None and params[option] < minimum:
            raise InvalidInput("{0} must be {1} or more, got {2}".format(option, minimum, params[option]))


def run_module(options: Mapping[str, dict[str, Any]], run: Callable[[Task], dict], failure: Failure,
               registry: bool = False, requires: Optional[Mapping[str, Requirement]] = None,
               requirement_labels: Optional[Mapping[str, str]] = None, minimums: Optional[Mapping[str, int]] = None,
               validate: Optional[Callable[[Any], Any]] = None, **rules: Any) -> None:
    """A whole module's main(): options and rules, connect, check requirements, run, report once.

    ``failure`` says what was attempted, on what, and why it failed ("Pulling {name} failed: {error}" gives
    "Pulling a, b failed: <why>"); ``rules`` are AnsibleModule's (mutually_exclusive, required_one_of, required_if, ...);
    ``minimums`` the smallest value of integer options; ``validate`` checks the options before the engine is asked
    anything, so that bad input is reported as such on every engine, whatever it lacks.
    """
    module = AnsibleModule(argument_spec=argument_spec(options, registry=registry), supports_check_mode=True, **rules)
    if registry:
        module.no_log_values.difference_update(public_auth_values(module.params["registry_auths"]))
    task: Optional[Task] = None
    try:
        check_minimums(minimums or {}, module.params)
        if validate is not None:
            validate(module.params)
        task = Task(connect(module.params), module.params, module.check_mode)
        check_requirements(task.client, requires or {}, module.params, requirement_labels or {})
        result = run(task)
    except MissingLibrary as exc:
        _mask(module, task)
        module.fail_json(msg=failure_message(failure, module.params, str(exc)), exception=exc.traceback_text)
    except StreamError as exc:
        _mask(module, task)
        tail = ". Last lines of the log:\n" + "\n".join(exc.log_tail) if exc.log_tail else ""
        module.fail_json(msg=failure_message(failure, module.params, str(exc) + tail), log=exc.log_tail)
    except MobyEngineError as exc:
        _mask(module, task)
        module.fail_json(msg=failure_message(failure, module.params, str(exc)))
    _mask(module, task)
    for warning in task.warnings + [text for source in task.secret_sources for text in getattr(source, "warnings", ())]:
        module.warn(warning)
    module.exit_json(**result)


def public_auth_values(auths: Any) -> set[str]:
    """The non-secret values of registry_auths (user names, e-mails, addresses)."""
    public, secrets = set(), set()
    for creds in (auths.values() if isinstance(auths, Mapping) else ()):
        for key, value in (creds.items() if isinstance(creds, Mapping) else ()):
            if value:
                (secrets if key in SECRET_AUTH_KEYS else public).add(str(value))
    return public - secrets


def _mask(module: AnsibleModule, task: Optional[Task]) -> None:
    for source in (task.secret_sources if task else ()):
        module.no_log_values.update(value for value in source.secrets if value)
