# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``ssh://user@host`` engines, reached as the docker CLI reaches them.

Each HTTP connection runs ``ssh [-l user] [-p port] -- host docker system dial-stdio``, which needs
only the docker CLI on the far side, and speaks HTTP over the process's standard input and output.
The OpenSSH client on the managed host reads the user's ssh configuration (keys, known hosts, jump
hosts), or the file named by ``ssh_config``; BatchMode keeps it from ever waiting for a password.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from ansible_collections.moby.engine.plugins.module_utils._errors import EngineUnreachable, InvalidInput
from ansible_collections.moby.engine.plugins.module_utils._transport import OnePoolAdapter, SendfileConnection

try:
    from urllib3.connection import HTTPConnection
    from urllib3.connectionpool import HTTPConnectionPool
except ImportError:  # the transport reports the missing library before anything here is used
    HTTPConnection = HTTPConnectionPool = object

# The URL requests are sent to; the adapter below answers for it, whatever the host name says.
SSH_BASE_URL = "http://engine-over-ssh"
_STDERR_LIMIT = 2000


def ssh_command(docker_host: str, timeout: float, ssh_config: Optional[str] = None) -> list:
    """The command whose standard input and output carry one connection to the engine."""
    parts = urlsplit(docker_host)
    if not parts.hostname:
        raise InvalidInput("docker_host {0!r} names no host; use ssh://[user@]host[:port]".format(docker_host))
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        # As the docker CLI: the far side's docker CLI finds its own engine.
        raise InvalidInput("docker_host {0!r} has something after the host; use ssh://[user@]host[:port]".format(
            docker_host))
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput("docker_host {0!r} has an invalid port".format(docker_host))
    if shutil.which("ssh") is None:
        raise EngineUnreachable("docker_host {0} needs the OpenSSH client (ssh) on the managed host; install it "
                                "(apt-get install openssh-client)".format(docker_host))
    command = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout={0}".format(int(timeout)), "-T"]
    if ssh_config:
        command += ["-F", ssh_config]
    if parts.username:
        command += ["-l", unquote(parts.username)]
    if port:
        command += ["-p", str(port)]
    return command + ["--", parts.hostname, "docker", "system", "dial-stdio"]


class _SSHConnection(SendfileConnection, HTTPConnection):  # type: ignore[misc,valid-type]
    """An HTTP connection over the standard input and output of one ssh process."""

    def __init__(self, command: list, diagnostics: list, **kwargs: Any) -> None:
        super().__init__("localhost", **kwargs)
        self._command = command
        self._diagnostics = diagnostics
        self._process: Optional[subprocess.Popen] = None
        self._stderr: Any = None

    def _new_conn(self) -> socket.socket:
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()
        try:
            # A session of its own: a signal to the module's process group must not end ssh mid-request.
            self._process = subprocess.Popen(self._command, stdin=theirs, stdout=theirs, stderr=self._stderr,
                                             close_fds=True, start_new_session=True)
        except OSError as exc:
            ours.close()
            raise EngineUnreachable("cannot run {0}: {1}".format(self._command[0], exc.strerror or exc))
        finally:
            theirs.close()
        return ours

    def close(self) -> None:
        super().close()
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode and self._stderr is not None:
            self._stderr.seek(0)
            said = self._stderr.read(_STDERR_LIMIT).decode("utf-8", "replace").strip()
            self._diagnostics.append("ssh exited with status {0}{1}".format(
                process.returncode, ": " + said if said else ""))
        if self._stderr is not None:
            self._stderr.close()


class _SSHConnectionPool(HTTPConnectionPool):  # type: ignore[misc,valid-type]
    def __init__(self, command: list, diagnostics: list, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout, maxsize=4)
        self._command = command
        self._diagnostics = diagnostics
        self._connect_timeout = timeout

    def _new_conn(self) -> _SSHConnection:
        return _SSHConnection(self._command, self._diagnostics, timeout=self._connect_timeout)


class SSHAdapter(OnePoolAdapter):
    """A requests adapter whose every connection is an ssh process running ``docker system dial-stdio``."""

    def __init__(self, command: list, timeout: float) -> None:
        self.diagnostics: list = []
        super().__init__(_SSHConnectionPool(command, self.diagnostics, timeout))

    def last_failure(self) -> str:
        """What ssh said when it failed last, for the message of a failed request."""
        self.pool.close()  # ends the processes, so their exit status and stderr are known
        return self.diagnostics[-1] if self.diagnostics else ""
