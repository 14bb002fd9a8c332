# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Retrying registry operations that failed for a transient reason, and running independent calls side by side.

``classify`` is the one place that says whether a failure may go away on its own: a table of the engine's
(and the registry's, passed through by the engine) wordings, each with the reason given in results and
messages.  ``call_with_retries`` retries only what ``classify`` calls transient, and only the collection's own
exceptions: anything else is a programming error and goes straight up.  ``run_each`` runs one independent call
per item on a small thread pool and keeps the input order.

The shared option specs (``RETRY_OPTIONS``, ``PARALLEL_OPTIONS``) match the doc fragment
``moby.engine.engine.RETRY`` and each module's own ``parallel`` documentation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    EndpointMissing,
    EngineTimeout,
    EngineUnreachable,
    InvalidInput,
    MissingLibrary,
    MobyEngineError,
    UnsupportedApiVersion,
    UnsupportedByEngine,
)

T = TypeVar("T")

# The wait after the n-th failed attempt is retry_delay * 2**(n-1), but never more than this many seconds
# (or retry_delay itself, when that is larger).
MAX_RETRY_DELAY = 60.0

RETRY_OPTIONS: dict[str, dict[str, Any]] = {
    "retries": {"type": "int", "default": 0},
    "retry_delay": {"type": "float", "default": 1.0},
}
PARALLEL_OPTIONS: dict[str, dict[str, Any]] = {
    "parallel": {"type": "int", "default": 4},
}
# For run_module(minimums=...): the smallest value of each shared option.
RETRY_MINIMUMS: dict[str, int] = {"retries": 0, "retry_delay": 0}
PARALLEL_MINIMUMS: dict[str, int] = {"parallel": 1}


@dataclass(frozen=True)
class Verdict:
    """What ``classify`` says about one failure: may it go away on its own, and why (or why not)."""

    transient: bool
    reason: str


# Failures that no retry changes, whatever their wording: checked first, by exception type.
PERMANENT_TYPES: tuple = (
    (InvalidInput, "the input is invalid"),
    (MissingLibrary, "a Python library is missing"),
    (UnsupportedApiVersion, "the engine's API version is not supported"),
    (UnsupportedByEngine, "the engine does not support this"),
    (EndpointMissing, "the engine has no such endpoint"),
    (AuthenticationFailed, "the registry refused the credentials"),
    (EngineTimeout, "the engine did not answer within the timeout (raise timeout instead)"),
)

# (pattern, transient, reason), searched in this order in the error's text; the first match decides.
# The wordings are the engine's own and those of the registry client it uses (distribution's
# UnexpectedHTTPStatusError "received unexpected HTTP status: 503 Service Unavailable", errcode
# "toomanyrequests: ...", "error parsing HTTP 503 response body: ...") and of Go's net and TLS packages.
# What will not change comes first: a 401 answered with "unauthorized" stays refused however often it is asked.
CLASSIFICATION: tuple = (
    (r"unauthorized|authentication required|no basic auth credentials|incorrect username or password",
     False, "the registry refused the credentials"),
    (r"\bdenied\b", False, "the registry denied access"),
    (r"no matching manifest|does not match the specified platform|no match for platform",
     False, "the image has no manifest for the platform"),
    (r"manifest unknown|\bnot found\b|no such image|repository does not exist|name unknown|does not exist",
     False, "the registry does not have the image or tag"),
    (r"invalid reference format|invalid tag|invalid digest|must be lower ?case|contains white ?space|"
     r"invalid argument|\bbad request\b",
     False, "the input is invalid"),
    (r"\bunsupported\b|not supported|not implemented", False, "the operation is not supported"),
    (r"x509:|certificate (?:signed by unknown authority|has expired|is not valid)|"
     r"server gave HTTP response to HTTPS client",
     False, "the registry's TLS setup does not match the engine's (certificates, or plain HTTP)"),
    (r"no such host", False, "the registry's name does not resolve"),
    (r"toomanyrequests|too many requests|\bHTTP (?:status: )?429\b|unexpected status[^\n]*:\s*429\b",
     True, "the registry limits the request rate (429)"),
    (r"\bHTTP (?:status: )?5\d\d\b|unexpected status[^\n]*:\s*5\d\d\b|service unavailable|bad gateway|"
     r"gateway time-?out|internal server error|\bunavailable:",
     True, "the registry answered with a server error (5xx)"),
    (r"TLS handshake timeout", True, "the TLS handshake with the registry timed out"),
    (r"i/o timeout|context deadline exceeded|Client\.Timeout exceeded|timeout awaiting response headers|"
     r"request canceled while waiting for connection",
     True, "the registry did not answer in time (i/o timeout)"),
    (r"connection reset by peer|broken pipe|unexpected EOF|\bEOF\b|connection closed|"
     r"http2: server sent GOAWAY|stream error",
     True, "the connection to the registry was reset or closed (EOF)"),
    (r"connection refused", True, "the registry refused the connection (down, or restarting)"),
    (r"temporary failure in name resolution|server misbehaving", True, "resolving the registry's name failed"),
    (r"\bbroke off\b", True, "the connection to the engine broke off"),
)
_COMPILED = tuple((re.compile(pattern, re.I), transient, reason) for pattern, transient, reason in CLASSIFICATION)


def classify(error: BaseException) -> Verdict:
    """Whether a failure of a registry operation may go away when retried, and the reason in words."""
    for error_type, reason in PERMANENT_TYPES:
        if isinstance(error, error_type):
            return Verdict(False, reason)
    text = str(error)
    for pattern, transient, reason in _COMPILED:
        if pattern.search(text):
            return Verdict(transient, reason)
    if isinstance(error, EngineUnreachable):
        return Verdict(False, "the engine cannot be reached")
    return Verdict(False, "not known to be transient")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: ``retries`` more attempts, waits doubling from ``delay``."""

    retries: int = 0
    delay: float = 1.0
    sleep: Callable[[float], Any] = time.sleep

    @classmethod
    def from_params(cls, params: Mapping[str, Any], sleep: Callable[[float], Any] = time.sleep) -> "RetryPolicy":
        retries, delay = params.get("retries") or 0, params.get("retry_delay")
        delay = 1.0 if delay is None else float(delay)
        if retries < 0 or delay < 0:
            raise InvalidInput("retries and retry_delay must be 0 or more, got {0} and {1}".format(retries, delay))
        return cls(retries, delay, sleep)

    def wait(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th failed attempt."""
        return min(self.delay * 2 ** (failed - 1), max(MAX_RETRY_DELAY, self.delay))


def call_with_retries(operation: Callable[[], T], policy: RetryPolicy, attempts: list, what: str,
                      answers: tuple = ()) -> T:
    """``operation()``, retried while it fails for a transient reason and retries are left.

    Exceptions of the types in ``answers`` are an answer, not a failure (a registry's 404 when the question
    was whether it has a tag): they are raised at once, and not recorded.

    Every failed attempt is appended to ``attempts`` as ``{operation, error, transient, reason[, wait]}``.
    The final failure is the operation's own exception, its message then saying how many attempts were made and
    the last reason (when retries were asked for). Exceptions that are not the collection's own are never
    caught: a programming error is not a registry hiccup.
    """
    failed = 0
    while True:
        try:
            return operation()
        except MobyEngineError as exc:
            if answers and isinstance(exc, answers):
                raise
            failed += 1
            verdict = classify(exc)
            entry: dict[str, Any] = {"operation": what, "error": str(exc), "transient": verdict.transient,
                                     "reason": verdict.reason}
            retry = verdict.transient and failed <= policy.retries
            if retry:
                entry["wait"] = policy.wait(failed)
            attempts.append(entry)
            if not retry:
                if policy.retries:
                    _annotate(exc, failed, verdict)
                raise
            policy.sleep(entry["wait"])


def _annotate(exc: MobyEngineError, count: int, verdict: Verdict) -> None:
    """Add the attempt count and the last reason to the exception's message, keeping its type."""
    how = "gave up" if verdict.transient else "not retried"
    text = "{0} ({1} attempt{2}; {3}: {4})".format(str(exc), count, "" if count == 1 else "s", how, verdict.reason)
    exc.args = (text,) + tuple(exc.args[1:])
    if hasattr(exc, "message"):
        exc.message = text  # type: ignore[attr-defined]


def run_each(items: Sequence[Any], operation: Callable[[Any], T], parallel: int) -> list:
    """``operation(item)`` for every item, ``parallel`` at a time; ``[(item, result or MobyEngineError)]`` in input order.

    Anything but a MobyEngineError (a programming error) is raised as it is.
    """
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(items)))) as pool:
        futures = [pool.submit(operation, item) for item in items]
    outcomes = []
    for item, future in zip(items, futures):
        error = future.exception()
        if error is not None and not isinstance(error, MobyEngineError):
            raise error
        outcomes.append((item, error if error is not None else future.result()))
    return outcomes


def results_or_raise(outcomes: list, label: Callable[[Any], str] = str) -> list:
    """The results of ``run_each``, or one MobyEngineError naming every item that failed (by ``label``)."""
    failures = [(item, outcome) for item, outcome in outcomes if isinstance(outcome, MobyEngineError)]
    if len(failures) == 1 and len(outcomes) == 1:
        raise failures[0][1]
    if failures:
        raise MobyEngineError("; ".join("{0}: {1}".format(label(item), error) for item, error in failures))
    return [outcome for _item, outcome in outcomes]
