"""Why the link cannot reach its broker: classification of real connection failures
(real TLS handshakes on loopback, a real DNS lookup, a closed port, a silent server) and
of CONNACK reason codes, and the throttled log lines of :class:`LinkHealth` on a
simulated clock."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mqtt_broker import make_tls_files
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from test_link_support import make_link, minimal_station_yaml, open_outbox
from waiting import wait_until

from district_collector.admin.local_broker import free_port
from firmware_daemon.config import load_station_config
from firmware_daemon.link.failure import (
    LinkFailure,
    closed_before_connack,
    from_connack,
    from_exception,
)
from firmware_daemon.link.health import LinkHealth
from radio_protocol.clock import SimulatedClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HEALTH_LOG = "firmware_daemon.link.health"


@contextmanager
def tls_server(tmp_path: Path, *, handshake: bool = True) -> Iterator[tuple[int, Path]]:
    """A loopback server on a free port that does a TLS handshake (certificate for
    localhost/127.0.0.1 from its own CA) with each client, or stays silent; ``(port, ca)``."""
    ca, cert, key = make_tls_files(tmp_path / "server-tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so the thread sees ``stop``
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10.0)
            accepted.append(conn)
            if handshake:
                try:
                    context.wrap_socket(conn, server_side=True).close()
                except (OSError, ssl.SSLError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], ca
    finally:
        stop.set()
        thread.join(15)
        listener.close()
        for conn in accepted:
            conn.close()


def handshake_error(port: int, ca: Path, server_hostname: str, timeout_s: float = 10.0) -> BaseException:
    """The exception a real TLS client handshake with 127.0.0.1:``port`` raises."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        try:
            context.wrap_socket(sock, server_hostname=server_hostname).close()
        except (OSError, ssl.SSLError) as exc:
            return exc
    raise AssertionError("the handshake succeeded")


def test_link_failure_tls_broker_signed_by_another_ca(tmp_path: Path) -> None:
    other_ca = make_tls_files(tmp_path / "other")[0]
    with tls_server(tmp_path) as (port, _ca):
        exc = handshake_error(port, other_ca, "localhost")
    failure = from_exception(exc, "localhost", port)
    assert failure.kind == "tls-handshake"
    assert failure.detail.startswith(f"TLS handshake failed with localhost:{port}: certificate verify failed: ")


def test_link_failure_tls_host_name_mismatch(tmp_path: Path) -> None:
    with tls_server(tmp_path) as (port, ca):
        exc = handshake_error(port, ca, "broker.example")
    failure = from_exception(exc, "broker.example", port)
    assert failure.kind == "tls-handshake"
    assert "the broker's certificate does not name 'broker.example'" in failure.detail
    assert "Hostname mismatch" in failure.detail


def test_link_failure_tls_handshake_timeout(tmp_path: Path) -> None:
    with tls_server(tmp_path, handshake=False) as (port, ca):
        exc = handshake_error(port, ca, "localhost", timeout_s=0.3)
    failure = from_exception(exc, "localhost", port)
    assert failure.kind == "timeout"
    assert failure.detail.startswith(f"TLS handshake to localhost:{port} timed out")


def test_link_failure_dns() -> None:
    with pytest.raises(socket.gaierror) as caught:
        socket.getaddrinfo("nonexistent.invalid", 8883)
    failure = from_exception(caught.value, "nonexistent.invalid", 8883)
    assert failure.kind == "dns"
    assert failure.detail.startswith("DNS lookup of 'nonexistent.invalid' failed: ")


def test_link_failure_connection_refused() -> None:
    port = free_port()
    with pytest.raises(ConnectionRefusedError) as caught:
        socket.create_connection(("127.0.0.1", port), timeout=5)
    failure = from_exception(caught.value, "127.0.0.1", port)
    assert failure == LinkFailure("connection-refused", f"connection refused by 127.0.0.1:{port} "
                                  "(nothing listens on that port, or a firewall)")


def test_link_failure_other_os_error_names_its_errno() -> None:
    failure = from_exception(ConnectionResetError(104, "Connection reset by peer"), "h", 1)
    assert failure == LinkFailure("network", "cannot connect to h:1: Connection reset by peer (ECONNRESET)")


@pytest.mark.parametrize(("code", "kind", "words"), [
    (135, "refused-credentials", "refused credentials for user 'dak-koi-01': Not authorized"),
    (134, "refused-credentials", "refused credentials for user 'dak-koi-01': Bad user name or password"),
    (136, "connack-refused", "refused the connection: Server unavailable (reason code 136)"),
    (138, "connack-refused", "refused the connection: Banned (reason code 138)"),
])
def test_link_failure_connack_reason_codes(code: int, kind: str, words: str) -> None:
    failure = from_connack(ReasonCode(PacketTypes.CONNACK, identifier=code), "broker.example", 8883, "dak-koi-01")
    assert failure.kind == kind and f"broker broker.example:8883 {words}" in failure.detail


def test_link_failure_closed_before_connack_hints_at_tls() -> None:
    plain = closed_before_connack("Unspecified error", "h", 8883, tls=False)
    assert plain.kind == "closed" and "plain MQTT to a TLS port?" in plain.detail
    assert "plain MQTT" not in closed_before_connack("Unspecified error", "h", 8883, tls=True).detail


def test_link_failure_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown link failure kind"):
        LinkFailure("weird", "x")


# --- LinkHealth: state and throttled logging -----------------------------------------------


TLS = LinkFailure("tls-handshake", "TLS handshake failed with b:8883: certificate verify failed: x")
REFUSED = LinkFailure("connection-refused", "connection refused by b:8883")


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == HEALTH_LOG and r.levelno >= logging.INFO]
    caplog.clear()
    return lines


def make_health(report_every_s: float = 300.0) -> tuple[LinkHealth, SimulatedClock]:
    clock = SimulatedClock(T0)
    return LinkHealth(station="dak-koi-01", host="b", port=8883, tls=True, clock=clock,
                      report_every_s=report_every_s), clock


def test_link_health_logs_a_repeating_failure_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, HEALTH_LOG)
    health, clock = make_health()
    health.attempt_failed(TLS)
    [first] = warnings(caplog)
    assert first.startswith("mqtt cannot reach the broker station=dak-koi-01 broker=b:8883 "
                            "kind=tls-handshake failures=1: TLS handshake failed with b:8883")
    for _ in range(9):  # paho's back-off: retries every 30 s
        clock.advance(30.0)
        health.attempt_failed(TLS)
    assert warnings(caplog) == []  # 270 s: the same failure, not logged again
    clock.advance(30.0)
    health.attempt_failed(TLS)
    [again] = warnings(caplog)
    assert again.startswith("mqtt still cannot reach the broker station=dak-koi-01 broker=b:8883 "
                            "kind=tls-handshake failures=11 (10 more attempts failed")
    snap = health.snapshot()
    assert (snap.state, snap.failures, snap.failures_total) == ("down", 11, 11)
    assert snap.since == T0 and snap.last_error is not None
    assert (snap.last_error.kind, snap.last_error.at) == ("tls-handshake", T0 + timedelta(seconds=300))


def test_link_health_a_different_failure_or_a_success_logs_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, HEALTH_LOG)
    health, clock = make_health(report_every_s=5.0)
    health.attempt_failed(TLS)
    clock.advance(1.0)
    health.attempt_failed(REFUSED)
    clock.advance(1.0)
    health.attempt_failed(TLS)  # changed back: a different failure from the last one logged
    assert [line.split(" kind=")[1].split(" ")[0] for line in warnings(caplog)] == [
        "tls-handshake", "connection-refused", "tls-handshake"]
    clock.advance(1.0)
    health.connected(session_present=True)
    assert warnings(caplog) == ["mqtt connected station=dak-koi-01 broker=b:8883 session_present=True "
                                "after 3 failures (last: tls-handshake)"]
    snap = health.snapshot()
    assert (snap.state, snap.failures, snap.failures_total) == ("connected", 0, 3)
    assert snap.connected_at == T0 + timedelta(seconds=3) and snap.last_error is not None
    health.disconnected()
    assert health.snapshot().state == "connecting"
    health.attempt_failed(TLS)  # the first failure after a success: logged at once
    assert len(warnings(caplog)) == 1
    clock.advance(5.0)  # the configured interval
    health.attempt_failed(TLS)
    assert len(warnings(caplog)) == 1


def test_link_health_tells_its_listeners(caplog: pytest.LogCaptureFixture) -> None:
    health, _ = make_health()
    seen: list[str] = []
    health.add_listener(lambda: seen.append(health.snapshot().state))
    health.add_listener(lambda: 1 / 0)  # a failing listener is logged, never breaks the link
    health.attempt_failed(REFUSED)
    health.connected(session_present=False)
    health.stopped()
    assert seen == ["down", "connected", "stopped"]
    assert any("link health listener failed" in r.getMessage() for r in caplog.records)


def test_link_keeps_retrying_and_reporting_a_host_name_paho_cannot_encode(tmp_path: Path) -> None:
    """A host name IDNA cannot encode raises UnicodeError (not OSError) inside paho's connect:
    the real link reports it and paho's network thread goes on retrying."""
    host = "a" * 70 + ".example"
    config = load_station_config(minimal_station_yaml(tmp_path, amplifier={"pin": 17},
                                                      mqtt={"host": host, "port": 1883}))
    with open_outbox(config) as outbox:
        link = make_link(config, outbox, reconnect_min_s=0, reconnect_max_s=0)
        link.start()
        try:
            snap = wait_until(lambda: (s := link.health.snapshot()).failures >= 2 and s, 30, "two failed attempts")
        finally:
            link.stop()
    assert snap.state == "down" and snap.last_error is not None
    assert snap.last_error.kind == "network"
    assert snap.last_error.detail.startswith(f"cannot connect to {host}:1883: UnicodeError: ")


def test_link_reports_a_broker_that_never_answers_the_tls_handshake(tmp_path: Path) -> None:
    """The real link against a server that accepts TCP and stays silent: paho's connect
    times out (5 s) and the link reports a TLS handshake timeout with host:port."""
    with tls_server(tmp_path, handshake=False) as (port, ca):
        config = load_station_config(minimal_station_yaml(
            tmp_path, amplifier={"pin": 17}, mqtt={"host": "127.0.0.1", "port": port, "tls": {"ca": str(ca)}}))
        with open_outbox(config) as outbox:
            link = make_link(config, outbox)
            link.start()
            try:
                snap = wait_until(lambda: (s := link.health.snapshot()).failures >= 1 and s, 60, "a timeout")
            finally:
                link.stop()
    assert snap.last_error is not None and snap.last_error.kind == "timeout"
    assert snap.last_error.detail.startswith(f"TLS handshake to 127.0.0.1:{port} timed out")
