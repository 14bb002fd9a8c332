# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The classification of registry failures and the retry loop, with the clock faked (nothing sleeps)."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.moby.engine.plugins.module_utils._errors import (
    AuthenticationFailed,
    BadRequest,
    EndpointMissing,
    EngineAPIError,
    EngineTimeout,
    EngineUnreachable,
    InvalidInput,
    MobyEngineError,
    NotFound,
    ServerError,
    StreamError,
    UnsupportedByEngine,
)
from ansible_collections.moby.engine.plugins.module_utils._retry import (
    MAX_RETRY_DELAY,
    RetryPolicy,
    call_with_retries,
    classify,
    results_or_raise,
    run_each,
)

# Wordings of the engine (and of the registry client it uses) as they reach the module.
TRANSIENT = [
    ServerError("received unexpected HTTP status: 503 Service Unavailable"),
    ServerError("received unexpected HTTP status: 502 Bad Gateway"),
    StreamError("error pulling image configuration: received unexpected HTTP status: 504 Gateway Time-out"),
    ServerError("error parsing HTTP 503 response body: invalid character '<' looking for beginning of value: \"<html>\""),
    ServerError("toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating"),
    StreamError("toomanyrequests: too many requests"),
    ServerError("unexpected status from GET request to https://r.example/v2/app/manifests/1: 503 Service Unavailable"),
    ServerError("unexpected status from HEAD request to https://r.example/v2/app/manifests/1: 429 Too Many Requests"),
    ServerError("Get \"https://r.example/v2/\": read tcp 10.0.0.2:40000->10.0.0.9:443: read: connection reset by peer"),
    StreamError("unexpected EOF"),
    ServerError("Get \"http://127.0.0.1:5000/v2/\": EOF"),
    ServerError("Get \"https://r.example/v2/\": net/http: TLS handshake timeout"),
    ServerError("Get \"https://r.example/v2/\": dial tcp 10.0.0.9:443: i/o timeout"),
    ServerError("Get \"https://r.example/v2/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"),
    ServerError("Get \"http://127.0.0.1:5001/v2/\": dial tcp 127.0.0.1:5001: connect: connection refused"),
    ServerError("unavailable: service unavailable"),
    EngineUnreachable("the connection to the engine at unix:///var/run/docker.sock broke off: IncompleteRead(0 bytes)"),
]

PERMANENT = [
    AuthenticationFailed("unauthorized: authentication required (the registry refused the credentials: ...)"),
    ServerError("Head \"http://127.0.0.1:5000/v2/app/manifests/1\": unauthorized: authentication required"),
    ServerError("denied: requested access to the resource is denied"),
    NotFound("manifest for 127.0.0.1:5000/app:nope not found: manifest unknown: manifest unknown"),
    NotFound("pull access denied for app, repository does not exist or may require 'docker login'"),
    StreamError("no matching manifest for linux/s390x in the manifest list entries"),
    BadRequest("invalid reference format: repository name must be lowercase"),
    InvalidInput("received unexpected HTTP status: 503 Service Unavailable"),  # the type wins over the words
    UnsupportedByEngine("Podman 4.3.1 (API 1.41) cannot pull every tag"),
    EndpointMissing("Podman has no GET /distribution/{name}/json endpoint", status=404),
    EngineTimeout("the engine at unix:///var/run/docker.sock did not answer within 60 s"),
    EngineUnreachable("cannot connect to the engine at unix:///nowhere.sock: No such file or directory"),
    ServerError("Get \"https://r.example/v2/\": x509: certificate signed by unknown authority"),
    ServerError("Get \"https://127.0.0.1:5000/v2/\": http: server gave HTTP response to HTTPS client"),
    ServerError("Get \"https://nowhere.example/v2/\": dial tcp: lookup nowhere.example: no such host"),
    ServerError("something nobody has seen before"),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda error: str(error)[:60])
def test_transient_failures(error):
    verdict = classify(error)
    assert verdict.transient is True
    assert verdict.reason


@pytest.mark.parametrize("error", PERMANENT, ids=lambda error: str(error)[:60])
def test_permanent_failures(error):
    assert classify(error).transient is False


def test_reasons_name_the_cause():
    assert classify(ServerError("received unexpected HTTP status: 503 Service Unavailable")).reason == \
        "the registry answered with a server error (5xx)"
    assert classify(ServerError("toomanyrequests: slow down")).reason == "the registry limits the request rate (429)"
    assert classify(AuthenticationFailed("unauthorized")).reason == "the registry refused the credentials"
    assert classify(StreamError("no matching manifest for linux/arm64")).reason == \
        "the image has no manifest for the platform"
    assert classify(ServerError("something new")).reason == "not known to be transient"


class FakeClock:
    def __init__(self):
        self.waits = []

    def sleep(self, seconds):
        self.waits.append(seconds)


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors, answer="done"):
        self.errors = list(errors)
        self.answer = answer
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.answer


def policy(retries, delay=1.0):
    clock = FakeClock()
    return RetryPolicy(retries, delay, clock.sleep), clock


def test_transient_failures_are_retried_with_doubling_waits():
    retry, clock = policy(3)
    operation = Flaky(ServerError("received unexpected HTTP status: 503 Service Unavailable"),
                      ServerError("toomanyrequests: too many requests"))
    attempts = []
    assert call_with_retries(operation, retry, attempts, "pull") == "done"
    assert operation.calls == 3
    assert clock.waits == [1.0, 2.0]
    assert attempts == [
        {"operation": "pull", "error": "received unexpected HTTP status: 503 Service Unavailable", "transient": True,
         "reason": "the registry answered with a server error (5xx)", "wait": 1.0},
        {"operation": "pull", "error": "toomanyrequests: too many requests", "transient": True,
         "reason": "the registry limits the request rate (429)", "wait": 2.0},
    ]


def test_first_attempt_working_records_nothing():
    retry, clock = policy(3)
    attempts = []
    assert call_with_retries(Flaky(), retry, attempts, "pull") == "done"
    assert attempts == [] and clock.waits == []


def test_waits_are_capped():
    retry, _clock = policy(10, delay=5)
    assert [retry.wait(n) for n in range(1, 7)] == [5, 10, 20, 40, MAX_RETRY_DELAY, MAX_RETRY_DELAY]
    assert RetryPolicy(3, 120.0).wait(3) == 120.0  # a delay above the cap is the cap


def test_giving_up_keeps_the_type_and_quotes_count_and_reason():
    retry, clock = policy(2, delay=0.5)
    operation = Flaky(*[ServerError("received unexpected HTTP status: 503 Service Unavailable")] * 5)
    attempts = []
    with pytest.raises(ServerError) as caught:
        call_with_retries(operation, retry, attempts, "pull")
    assert operation.calls == 3
    assert clock.waits == [0.5, 1.0]
    assert str(caught.value) == caught.value.message == (
        "received unexpected HTTP status: 503 Service Unavailable (3 attempts; gave up: the registry answered with a "
        "server error (5xx))")
    assert caught.value.status == 500
    assert [entry.get("wait") for entry in attempts] == [0.5, 1.0, None]


def test_permanent_failure_is_not_retried():
    retry, clock = policy(5)
    operation = Flaky(AuthenticationFailed("unauthorized: authentication required"))
    attempts = []
    with pytest.raises(AuthenticationFailed, match=r"authentication required \(1 attempt; not retried: the registry "
                                                   r"refused the credentials\)$"):
        call_with_retries(operation, retry, attempts, "pull")
    assert operation.calls == 1 and clock.waits == []
    assert attempts == [{"operation": "pull", "error": "unauthorized: authentication required", "transient": False,
                         "reason": "the registry refused the credentials"}]


def test_without_retries_the_message_is_unchanged():
    retry, clock = policy(0)
    with pytest.raises(ServerError) as caught:
        call_with_retries(Flaky(ServerError("received unexpected HTTP status: 503 Service Unavailable")), retry, [],
                          "pull")
    assert str(caught.value) == "received unexpected HTTP status: 503 Service Unavailable"
    assert clock.waits == []


def test_stream_errors_keep_their_log_tail():
    retry, _clock = policy(1)
    with pytest.raises(StreamError) as caught:
        call_with_retries(Flaky(*[StreamError("unexpected EOF", log_tail=["a", "b"])] * 2), retry, [], "pull")
    assert caught.value.log_tail == ["a", "b"]
    assert "2 attempts; gave up" in str(caught.value)


@pytest.mark.parametrize("error", [TypeError("bad argument"), KeyError("Id"), AttributeError("x")])
def test_programming_errors_are_never_retried_or_swallowed(error):
    retry, clock = policy(5)
    operation = Flaky(error)
    attempts = []
    with pytest.raises(type(error)):
        call_with_retries(operation, retry, attempts, "pull")
    assert operation.calls == 1 and attempts == [] and clock.waits == []


def test_policy_from_params():
    assert RetryPolicy.from_params({"retries": 2, "retry_delay": 0.25}).wait(2) == 0.5
    assert RetryPolicy.from_params({}).retries == 0
    with pytest.raises(InvalidInput, match="retries and retry_delay must be 0 or more"):
        RetryPolicy.from_params({"retries": -1, "retry_delay": 1})
    with pytest.raises(InvalidInput):
        RetryPolicy.from_params({"retries": 1, "retry_delay": -0.5})


# -- run_each --------------------------------------------------------------------


def test_run_each_keeps_input_order_and_runs_side_by_side():
    barrier = threading.Barrier(3, timeout=5)

    def work(item):
        barrier.wait()  # only passes when three items run at the same time
        return item * 2

    assert results_or_raise(run_each([3, 1, 2], work, 3)) == [6, 2, 4]


def test_run_each_collects_failures_by_item():
    def work(item):
        if item % 2:
            raise NotFound("no such image {0}".format(item))
        return item

    outcomes = run_each([1, 2, 3], work, 2)
    assert [type(outcome) for _item, outcome in outcomes] == [NotFound, int, NotFound]
    with pytest.raises(MobyEngineError, match=r"^i1: no such image 1; i3: no such image 3$"):
        results_or_raise(outcomes, "i{0}".format)


def test_run_each_single_failure_keeps_its_type():
    def work(item):
        raise StreamError("boom", log_tail=["x"])

    with pytest.raises(StreamError):
        results_or_raise(run_each(["a"], work, 4))


def test_run_each_raises_programming_errors():
    def work(item):
        raise ValueError("bug")

    with pytest.raises(ValueError):
        run_each([1, 2], work, 2)


def test_run_each_of_nothing():
    assert run_each([], lambda item: item, 4) == []


def test_engine_api_error_subclasses_without_status_still_classify():
    assert classify(EngineAPIError("received unexpected HTTP status: 500 Internal Server Error")).transient is True


def test_answers_are_raised_unrecorded():
    retry, clock = policy(3)
    attempts = []
    with pytest.raises(NotFound):
        call_with_retries(Flaky(NotFound("manifest unknown")), retry, attempts, "registry digest", answers=(NotFound,))
    assert attempts == [] and clock.waits == []
