# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Exceptions raised by the moby.engine client.

module_utils never call fail_json; they raise these, and each module's
main() turns one into a single failure message.
"""

from __future__ import annotations


class MobyEngineError(Exception):
    """Base of every error the collection's shared code raises."""


class InvalidInput(MobyEngineError):
    """A value given by the user cannot be used (bad reference, filter, size...)."""


class MissingLibrary(MobyEngineError):
    """A Python library the client needs is not installed on the managed host."""

    def __init__(self, library: str, message: str, traceback_text: str | None = None) -> None:
        super().__init__(message)
        self.library = library
        self.traceback_text = traceback_text


class EngineUnreachable(MobyEngineError):
    """Nothing usable answered at the engine address."""


class EngineTimeout(EngineUnreachable):
    """The engine did not answer within the configured timeout."""


class Interrupted(MobyEngineError):
    """The module process was told to stop (SIGTERM) while it was writing something."""


class UnsupportedApiVersion(MobyEngineError):
    """The engine's API is older than this collection supports, or refused the requested version."""


class UnsupportedByEngine(MobyEngineError):
    """The option needs something this kind of engine does not offer (e.g. BuildKit on Podman)."""


class EngineAPIError(MobyEngineError):
    """The engine answered with an error status; ``message`` is the engine's own text."""

    status: int | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(EngineAPIError):
    status = 400


class AuthenticationFailed(EngineAPIError):
    status = 401


class NotFound(EngineAPIError):
    status = 404


class EndpointMissing(NotFound):
    """The engine has no such endpoint at all (Podman's service has no GET /distribution/{name}/json)."""


class Conflict(EngineAPIError):
    status = 409


class ServerError(EngineAPIError):
    status = 500


class StreamError(EngineAPIError):
    """The engine reported an error inside a streamed (JSON lines) response."""

    def __init__(self, message: str, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.log_tail = log_tail or []


STATUS_ERRORS: dict[int, type[EngineAPIError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    404: NotFound,
    409: Conflict,
    500: ServerError,
}
