# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The TLS and broken-connection behaviour of the Transport, with the errors requests really raises."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.moby.engine.plugins.module_utils._transport import EngineConfig, Transport
from ansible_collections.moby.engine.plugins.module_utils._errors import EngineUnreachable, InvalidInput

TLS_HOST = "tcp://engine.example.com:2376"


def client_raising(monkeypatch, error, **config):
    engine_config = EngineConfig(docker_host=TLS_HOST, tls=True, **config)
    client = Transport(engine_config)

    def refuse(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(client.session, "request", refuse)
    return client


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
@pytest.mark.parametrize("config, expected", [
    ({"ca_path": "/certs/ca.pem"}, "/certs/ca.pem"),
    ({"validate_certs": False, "ca_path": "/certs/ca.pem"}, False),
])
def test_own_verify_wins_over_environment(monkeypatch, variable, config, expected):
    monkeypatch.setenv(variable, "/etc/ssl/certs/ca-certificates.crt")
    session = Transport(EngineConfig(docker_host=TLS_HOST, tls=True, **config)).session
    settings = session.merge_environment_settings("https://engine.example.com:2376/_ping", {}, False, None, None)
    assert settings["verify"] == expected


def test_default_verify_still_takes_the_environment_bundle(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = Transport(EngineConfig(docker_host=TLS_HOST, tls=True)).session
    settings = session.merge_environment_settings("https://engine.example.com:2376/_ping", {}, False, None, None)
    assert settings["verify"] == "/etc/ssl/certs/ca-certificates.crt"


def test_hostname_mismatch_names_the_address(monkeypatch):
    client = client_raising(monkeypatch, requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='127.0.0.1', port=2376): Max retries exceeded with url: /_ping (Caused by "
        "SSLError(SSLCertVerificationError(1, \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP "
        "address mismatch, certificate is not valid for '127.0.0.1'. (_ssl.c:1006)\")))"))
    with pytest.raises(EngineUnreachable) as exc:
        client.request("GET", "/_ping", versioned=False)
    # tls: true without validate_certs: the message says it verifies, unlike community.docker's tls: true.
    assert ("failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate "
            "is not valid for '127.0.0.1' (tls: true verifies the engine's certificate here, unlike community.docker's: "
            "give ca_path, or set validate_certs: false to connect without verifying). Check ca_path") in str(exc.value)


def test_verification_failure_with_validate_certs_given_has_no_migration_hint(monkeypatch):
    client = client_raising(monkeypatch, requests.exceptions.SSLError(
        "SSLError(SSLCertVerificationError(1, \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to "
        "get local issuer certificate (_ssl.c:1006)\"))"), validate_certs=True)
    with pytest.raises(EngineUnreachable) as exc:
        client.request("GET", "/_ping", versioned=False)
    assert "community.docker" not in str(exc.value)
    assert "unable to get local issuer certificate. Check ca_path" in str(exc.value)


@pytest.mark.parametrize("config, hint", [
    ({}, "(the engine wants a client certificate: set client_cert and client_key)"),
    ({"client_cert": "/c/cert.pem", "client_key": "/c/key.pem"},
     "(the engine refused the client certificate /c/cert.pem: it must be signed by a CA the engine trusts)"),
])
def test_engine_refusing_the_handshake(monkeypatch, config, hint):
    client = client_raising(monkeypatch, requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='localhost', port=2376): Max retries exceeded with url: /_ping (Caused by "
        "SSLError(SSLError(1, '[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:2580)')))"),
        **config)
    with pytest.raises(EngineUnreachable) as exc:
        client.request("GET", "/_ping", versioned=False)
    assert "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate " + hint in str(exc.value)


def test_missing_certificate_file_is_bad_input(monkeypatch):
    client = client_raising(monkeypatch, OSError(
        "Could not find a suitable TLS CA certificate bundle, invalid path: /certs/none.pem"))
    with pytest.raises(InvalidInput) as exc:
        client.request("GET", "/_ping", versioned=False)
    assert str(exc.value) == ("Could not find a suitable TLS CA certificate bundle, invalid path: /certs/none.pem; "
                              "check ca_path, client_cert and client_key (or DOCKER_CERT_PATH)")


def test_engine_gone_mid_request(monkeypatch):
    client = client_raising(monkeypatch, requests.exceptions.ConnectionError(
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"))
    with pytest.raises(EngineUnreachable) as exc:
        client.request("POST", "/build", versioned=False)
    assert str(exc.value) == ("the connection to the engine at tcp://engine.example.com:2376 broke off: Remote end "
                              "closed connection without response. Check that dockerd is still running, then rerun")
