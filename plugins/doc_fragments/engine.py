# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of every module: how to reach the engine. Matches ENGINE_ARGUMENT_SPEC in _common.py.
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - Address of the Docker engine API.
      - C(unix:///path/to/socket), C(tcp://host:port), C(http://host:port), C(https://host:port) or
        C(ssh://[user@]host[:port]).
      - With C(ssh://) each connection runs C(ssh ... host docker system dial-stdio) on the managed host, as the docker
        CLI does, so the far side needs only the docker CLI and an engine, and the managed host needs the OpenSSH
        client and a key the far side accepts (ssh runs in BatchMode and never asks for a password). A module runs on the managed host,
        so C(ssh://) is for driving another host from it (for example a bastion driving engines it can reach); to
        manage a host's own engine, run the task on that host with the default socket.
      - A C(tcp://) address without TLS gives anyone who can reach that port full control of the
        engine's host (root). Use TLS with client certificates for remote engines.
      - C(unix://) needs three slashes before an absolute path; V(unix://var/run/docker.sock) is refused.
      - If not set, the value of the E(DOCKER_HOST) environment variable is used (an empty one counts as unset);
        when neither is set, the docker context that applies (see O(docker_context)), else
        V(unix:///var/run/docker.sock).
      - E(HTTP_PROXY), E(HTTPS_PROXY) and E(NO_PROXY) apply to C(tcp://), C(http://) and C(https://) engines, as
        they do for the docker CLI; set E(NO_PROXY) for the engine's host when a proxy must not be used.
    type: str
    aliases: [docker_url]
  docker_context:
    description:
      - Name of a docker CLI context (as made by C(docker context create)) whose engine address and TLS material
        to use, read from the C(contexts) directory of the docker CLI's configuration (E(DOCKER_CONFIG), or
        C(~/.docker)) on the managed host.
      - When not set, as with the docker CLI, O(docker_host) (or E(DOCKER_HOST)) wins; else the context named by
        E(DOCKER_CONTEXT); else the C(currentContext) of C(config.json) (C(docker context use)); the context
        V(default) means the plain engine address.
      - Options given explicitly (O(ca_path), O(client_cert), O(client_key), O(validate_certs)) win over the
        context's.
    type: str
    aliases: [context]
  tls:
    description:
      - Connect to the engine over TLS.
      - Certificates are verified unless O(validate_certs=false) is set explicitly.
      - If not set, E(DOCKER_TLS) set to any non-empty value turns TLS on, as for the docker CLI.
    type: bool
    default: false
  validate_certs:
    description:
      - Verify the engine's certificate (and use TLS).
      - Defaults to verifying whenever TLS is in use; set to V(false) only for testing.
      - If not set, E(DOCKER_TLS_VERIFY) set to any non-empty value (V(0) included, as for the docker CLI) turns TLS
        and verification on.
    type: bool
    aliases: [tls_verify]
  ca_path:
    description:
      - CA certificate used to verify the engine's certificate.
      - With TLS, defaults to C(ca.pem) in E(DOCKER_CERT_PATH) (or, when that is unset, the docker CLI's configuration
        directory, E(DOCKER_CONFIG) or C(~/.docker)) when that file exists.
    type: path
    aliases: [ca_cert, cacert_path, tls_ca_cert]
  client_cert:
    description:
      - Client certificate presented to the engine. Requires O(client_key).
      - With TLS, defaults to C(cert.pem) in the directory O(ca_path) describes, when that file exists.
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description:
      - Private key of O(client_cert).
      - With TLS, defaults to C(key.pem) in the directory O(ca_path) describes, when that file exists.
    type: path
    aliases: [tls_client_key, key_path]
  tls_hostname:
    description:
      - Name expected in the engine's certificate, when it differs from the host in O(docker_host).
      - If not set, the value of the E(DOCKER_TLS_HOSTNAME) environment variable is used.
    type: str
  api_version:
    description:
      - Engine API version to use.
      - V(auto) asks the engine and uses its version, at most 1.51 (the newest this collection is tested against);
        an engine newer than that is spoken to in 1.51 unless its minimum (C(MinAPIVersion)) is higher, which fails
        with a message naming both. Engines older than API 1.41 (Docker 20.10) are refused with a clear message.
      - An explicit version is used as given on every request; one the engine refuses fails with the range of
        versions the engine accepts.
      - If not set, the value of the E(DOCKER_API_VERSION) environment variable is used.
    type: str
    default: auto
    aliases: [docker_api_version]
  ssh_config:
    description:
      - With an C(ssh://) O(docker_host), the ssh configuration file to use (C(ssh -F)) instead of the user's
        C(~/.ssh/config), for example to name the identity file, the known hosts file or a jump host.
    type: path
  timeout:
    description:
      - Seconds to wait for the connection to the engine and for a plain answer (inspect, list, tag, remove).
      - Operations whose answer streams (pull, push, build, load, export, import) wait as long as the engine works,
        as the docker CLI does; only connecting is bounded for them.
      - Must be a positive number; V(null) (no limit) is refused.
      - If not set, the value of the E(DOCKER_TIMEOUT) environment variable is used.
    type: int
    default: 60
notes:
  - Needs the Python libraries C(requests) and C(requests-unixsocket) on the managed host.
  - The module talks to the engine API directly; the docker CLI is not needed.
  - All modules of this collection are in the action group C(moby.engine.engine), so connection options can be
    set once with C(module_defaults) and C(group/moby.engine.engine).
requirements:
  - requests
  - requests-unixsocket (for unix sockets; on Python 3.8, version 0.3.0 with urllib3 < 2)
"""

    # Options of the modules that talk to registries. Matches REGISTRY_ARGUMENT_SPEC in _common.py.
    REGISTRY = r"""
options:
  registry_auth:
    description:
      - Credentials for the registry of the image, sent to the engine in the C(X-Registry-Auth) header.
      - When not given, credentials are read from C(config.json) in O(docker_config), including
        C(credsStore) and C(credHelpers) (C(docker-credential-<name>) programs on E(PATH)).
    type: dict
    suboptions:
      username:
        description: User name.
        type: str
      password:
        description: Password or access token for O(registry_auth.username).
        type: str
      email:
        description: E-mail address (only very old registries use it).
        type: str
      serveraddress:
        description:
          - The only registry the credentials are sent to, as V(host[:port]) (a scheme and a path are ignored;
            V(docker.io), V(index.docker.io) and V(https://index.docker.io/v1/) all mean Docker Hub).
          - Without it, the credentials are for the task's only registry; a task that names several registries fails
            and asks for it, and M(moby.engine.image_build) always needs it.
        type: str
      identitytoken:
        description: Identity (refresh) token issued by the registry, instead of a password.
        type: str
      registrytoken:
        description: Bearer token for the registry, instead of a password.
        type: str
  registry_auths:
    description:
      - Credentials for several registries, as a dict of registry (V(registry.example.com:5000), V(docker.io)) to
        credentials with the keys of O(registry_auth) (C(username), C(password), C(email), C(identitytoken),
        C(registrytoken)). Each entry is sent only to its own registry.
      - An entry here wins over C(config.json) for the same registry; O(registry_auth) wins over both for its registry.
      - Only the secret values (C(password), C(identitytoken), C(registrytoken)) are masked in output, so that
        registry and user names stay readable in image names and logs.
    type: dict
  docker_config:
    description:
      - Directory holding the docker CLI's C(config.json), read for the registries that O(registry_auth) and
        O(registry_auths) do not cover.
      - If not set, the value of the E(DOCKER_CONFIG) environment variable is used, then C(~/.docker).
    type: path
"""

    # Attributes shared by the modules that change nothing.
    INFO_ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode and predict what a real run would report.
    support: full
    details: This module never changes anything.
  diff_mode:
    description: Can show what changes, in diff mode.
    support: none
  action_group:
    description: Takes defaults from C(module_defaults) for the action group.
    support: full
    membership: [moby.engine.engine]
"""

    # Attributes shared by the modules that change images.
    ACTION_ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode and predict what a real run would report.
    support: full
    details: Nothing changes on the engine; RV(ignore:changed) predicts what a real run would report.
  diff_mode:
    description: Can show what changes, in diff mode.
    support: full
    details: The image's id, tags and digests before and after.
  action_group:
    description: Takes defaults from C(module_defaults) for the action group.
    support: full
    membership: [moby.engine.engine]
"""

    # Options of the modules that retry registry operations. Matches RETRY_OPTIONS in _retry.py.
    RETRY = r"""
options:
  retries:
    description:
      - How many more times to try a registry operation (reading the registry's digest, pulling, pushing,
        searching) that failed for a transient reason.
      - "Transient are the registry's server errors (5xx, passed on by the engine as C(received unexpected HTTP
        status: 503 Service Unavailable)), rate limits (429, C(toomanyrequests)), connections reset, refused or
        closed (EOF), TLS handshake and i/o timeouts, and the connection to the engine breaking off."
      - Never retried, because another attempt would not change them - the registry refusing the credentials
        (C(unauthorized), C(denied)), an unknown manifest or tag, no manifest for the platform, invalid input,
        something the engine does not support.
      - Every failed attempt is listed in the result (C(attempts), with the error, whether it was transient and
        why), and a final failure says how many attempts were made and the last reason.
      - V(0) tries once, as without this option.
    type: int
    default: 0
  retry_delay:
    description:
      - Seconds to wait before the first retry. The wait doubles after every further failed attempt
        (1, 2, 4, 8 ... seconds with the default), but never exceeds 60 seconds (or O(retry_delay) itself when
        that is larger).
    type: float
    default: 1.0
"""
