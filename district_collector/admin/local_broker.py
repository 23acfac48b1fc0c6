"""A Mosquitto started on this machine from a ``broker-config`` directory.

For brokers that live in one scratch directory on loopback: the tests, the benchmarks
and the demo. (A district server runs Mosquitto under systemd; see install-district.sh.)
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from radio_protocol.errors import CommuneRadioError


class BrokerStartError(CommuneRadioError):
    """The broker exited or did not listen in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: each socket stays bound until all are picked, so the
    kernel cannot hand the same port out twice (separate free_port() calls may collide)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_listening(port: int, timeout_s: float, what: str = "mosquitto",
                   proc: subprocess.Popen[bytes] | None = None, log_path: Path | None = None) -> None:
    """Return once 127.0.0.1:``port`` accepts connections; BrokerStartError if ``proc``
    exits first (with the tail of ``log_path``) or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path and log_path.exists() else ""
            raise BrokerStartError(f"{what} exited with {proc.returncode}: {tail or 'see its log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise BrokerStartError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


def start_mosquitto(conf: Path, port: int, log_path: Path, timeout_s: float = 10.0) -> subprocess.Popen[bytes]:
    """``mosquitto -c conf`` with its output appended to ``log_path``, listening on ``port``."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_listening(port, timeout_s, "mosquitto", proc, log_path)
    except BrokerStartError:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        raise
    return proc
