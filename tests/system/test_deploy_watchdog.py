"""sd_notify and the progress-gated watchdog, against a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from gpiozero.pins.mock import MockFactory
from test_link_support import minimal_station_yaml

from firmware_daemon.airing.airer import Airer, Segment
from firmware_daemon.config import StationConfig, load_station_config
from firmware_daemon.daemon import Daemon
from firmware_daemon.service import watchdog as watchdog_module
from firmware_daemon.service.watchdog import (
    ProgressWatchdog,
    SdNotifier,
    StationSupervisor,
    watchdog_interval_s,
)
from hal.audio import AudioOutput, PlaybackResult, PreparedAudio, probe
from radio_protocol.clock import SimulatedClock, SystemClock


class FakeSystemd:
    """What systemd's notify socket receives: a bound datagram socket and its messages."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.name = name
        self.sock.settimeout(0.01)

    def drain(self) -> list[str]:
        messages: list[str] = []
        while True:
            try:
                messages.append(self.sock.recv(4096).decode("utf-8"))
            except (TimeoutError, BlockingIOError):
                return messages

    def wait_for(self, text: str, timeout_s: float = 2.0) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen += self.drain()
            if any(text in m for m in seen):
                return seen
        raise AssertionError(f"{text!r} never arrived; got {seen}")


@pytest.fixture
def systemd_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSystemd]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        yield FakeSystemd(sock, str(path))
    finally:
        sock.close()


def test_notifier_sends_ready_status_watchdog_stopping(systemd_socket: FakeSystemd) -> None:
    notifier = SdNotifier()
    assert notifier.enabled
    assert notifier.ready("waiting for schedule")
    assert notifier.status("airing dak-koi-01\nseq 4")
    assert notifier.watchdog()
    assert notifier.stopping()
    assert systemd_socket.drain() == [
        "READY=1\nSTATUS=waiting for schedule",
        "STATUS=airing dak-koi-01 seq 4",
        "WATCHDOG=1",
        "STOPPING=1",
    ]
    notifier.close()


def test_notifier_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"commune-radio-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(1)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert SdNotifier().ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


@pytest.mark.parametrize("value", [None, "", "relative/path", "notify"])
def test_notifier_without_usable_socket_is_noop(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_SOCKET", value)
    notifier = SdNotifier()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_notifier_missing_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = SdNotifier(socket_name=str(tmp_path / "gone"))
    assert notifier.enabled
    assert notifier.watchdog() is False  # systemd gone: logged, not raised


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
    ],
)
def test_watchdog_interval_from_environment(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval_s(env) == expected


def test_watchdog_pings_only_while_expected_components_progress() -> None:
    clock = SimulatedClock(datetime(2026, 3, 5, tzinfo=UTC))
    sent: list[str] = []

    class Recorder(SdNotifier):
        def notify(self, message: str) -> bool:
            sent.append(message)
            return True

    wd = ProgressWatchdog(Recorder(socket_name=""), clock=clock, interval_s=1.0)
    loop = wd.register("scheduler", allowance_s=10)
    player = wd.register("player", allowance_s=3, expected=False)

    clock.advance(9)
    assert wd.check_and_ping()
    clock.advance(2)  # the loop is 11 s late
    assert not wd.check_and_ping()
    assert wd.stalled() == [("scheduler", 11.0)]
    loop.beat()
    assert wd.check_and_ping()

    with loop.suspended(), player.active():  # the loop waits on an airing
        for _ in range(20):  # 40 s of airing: the player writes a block every 2 s
            clock.advance(2)
            player.beat()
            assert wd.check_and_ping()
        clock.advance(5)  # the sound card hangs: no block for 5 s
        assert not wd.check_and_ping()
        assert [name for name, _ in wd.stalled()] == ["player"]
    assert wd.check_and_ping()  # airing over: the loop resumes with a fresh allowance
    assert sent.count("WATCHDOG=1") == 23
    assert sum(1 for m in sent if m.startswith("STATUS=stalled: player")) == 1


def test_watchdog_thread_stops_pinging_when_player_hangs(systemd_socket: FakeSystemd, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real thread, the real socket: pings while the player writes, none once it hangs."""
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # ping every 50 ms
    wd = ProgressWatchdog()
    assert wd.interval_s == pytest.approx(0.05)
    loop = wd.register("scheduler", allowance_s=0.5)
    player = wd.register("player", allowance_s=0.3, expected=False)
    hang = threading.Event()
    finished = threading.Event()

    def fake_player() -> None:  # writes a block every 20 ms until it "hangs"
        with loop.suspended(), player.active():
            while not hang.is_set():
                player.beat()
                time.sleep(0.02)
            finished.wait(5)  # a write that never returns

    wd.notifier.ready()
    wd.start()
    try:
        systemd_socket.wait_for("READY=1")
        thread = threading.Thread(target=fake_player)
        thread.start()
        time.sleep(0.4)
        assert systemd_socket.drain().count("WATCHDOG=1") >= 4
        hang.set()
        time.sleep(0.45)  # allowance (0.3 s) runs out
        systemd_socket.drain()
        time.sleep(0.4)
        after_hang = systemd_socket.drain()
        assert "WATCHDOG=1" not in after_hang
        finished.set()
        thread.join()
        loop.beat()
        messages = systemd_socket.wait_for("WATCHDOG=1")
        assert "WATCHDOG=1" in messages
    finally:
        finished.set()
        wd.stop()


def test_supervisor_airing_allowance_is_generous(tmp_path: Path) -> None:
    config = _station_config(tmp_path)  # warm-up 0, tail 0, margin 0.5
    media = SimpleNamespace(duration_s=300.0)
    airing = SimpleNamespace(slot=SimpleNamespace(segment=SimpleNamespace(media=media)))
    assert StationSupervisor.airing_allowance_s(config, airing) == pytest.approx(1.5 * 300 + 0.5 + 60)
    assert StationSupervisor.airing_allowance_s(config, SimpleNamespace()) > 3600  # unknown length


def test_watchdog_without_systemd_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    wd = ProgressWatchdog()
    wd.register("scheduler", allowance_s=1).beat()
    wd.start()
    assert wd._thread is None
    assert wd.check_and_ping() is False
    wd.stop()


# --- the station daemon under a fake systemd ----------------------------------------------


def _station_config(root: Path) -> StationConfig:
    return load_station_config(minimal_station_yaml(root, amplifier={"pin": 17, "warmup_s": 0, "tail_s": 0},
                                                    audio={"margin_s": 0.5}))


def test_daemon_ready_pings_and_stopping(systemd_socket: FakeSystemd, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # ping every 100 ms
    daemon = Daemon(_station_config(tmp_path), pin_factory=MockFactory())
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        seen = systemd_socket.wait_for("READY=1")
        assert any(m.startswith("READY=1\nSTATUS=station kon-ray/dak-koi-01 running") for m in seen)
        time.sleep(0.5)
        assert systemd_socket.drain().count("WATCHDOG=1") >= 3
    finally:
        daemon.request_stop("test")
        thread.join(10)
    assert not thread.is_alive()
    tail = systemd_socket.wait_for("STOPPING=1")
    time.sleep(0.3)
    assert systemd_socket.drain() == [] and "WATCHDOG=1" not in tail[tail.index(
        next(m for m in tail if m.startswith("STOPPING=1"))):]


def test_daemon_hung_airing_stops_pings_until_it_ends(systemd_socket: FakeSystemd, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An airing past warm-up + factor x media + tail + margin + slack withholds the pings."""
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # ping every 50 ms
    monkeypatch.setattr(watchdog_module, "AIRING_SLACK_S", 0.2)
    monkeypatch.setattr(watchdog_module, "AIRING_FACTOR", 1.0)
    daemon = Daemon(_station_config(tmp_path), pin_factory=MockFactory())
    runner = SimpleNamespace(current_airing=None)  # stands in for SlotRunner.current_airing
    daemon.slot_runner = runner
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        systemd_socket.wait_for("READY=1")
        media = SimpleNamespace(duration_s=0.1)
        runner.current_airing = SimpleNamespace(slot=SimpleNamespace(segment=SimpleNamespace(media=media)))
        daemon.wake()  # the runner starts airings from a timer: the loop turns right after
        allowance = StationSupervisor.airing_allowance_s(daemon.config, runner.current_airing)
        assert allowance == pytest.approx(0.1 + 0.5 + 0.2)
        time.sleep(allowance + 0.3)  # the airing overruns (the main loop still turns)
        systemd_socket.drain()
        time.sleep(0.4)
        assert "WATCHDOG=1" not in systemd_socket.drain()
        runner.current_airing = None  # the airing ends: pings resume
        daemon.wake()
        assert "WATCHDOG=1" in systemd_socket.wait_for("WATCHDOG=1")
    finally:
        daemon.request_stop("test")
        thread.join(10)


class BlocksThenHang(AudioOutput):
    """A player whose stream takes blocks for ``blocks_s`` (real time), then hangs in a
    write (no guard breaks it) until ``release``."""

    def __init__(self, blocks_s: float) -> None:
        self.blocks_s = blocks_s
        self.hanging = threading.Event()
        self.released = threading.Event()

    def prepare(self, path: str | os.PathLike[str], *, margin_s: float = 5.0) -> PreparedAudio:
        return _BlocksThenHangPlayback(self, path)


class _BlocksThenHangPlayback(PreparedAudio):
    def __init__(self, audio: BlocksThenHang, path: str | os.PathLike[str]) -> None:
        super().__init__(path, probe(path))
        self.audio = audio

    def _play(self, *, stop: threading.Event | None, on_start: Callable[[], None] | None,
              on_block: Callable[[float], None] | None) -> PlaybackResult:
        assert on_start is not None and on_block is not None
        on_start()
        end = time.monotonic() + self.audio.blocks_s
        while time.monotonic() < end:
            time.sleep(0.05)
            on_block(0.05)
        self.audio.hanging.set()
        self.audio.released.wait(30)  # the write that hangs
        return PlaybackResult(self.audio.blocks_s, 1.0, -20.0, -3.0, 0.0, 0, False)


def test_daemon_player_progress_per_block_hung_write_stops_pings(
        systemd_socket: FakeSystemd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Airer beats per audio block: blocks flowing for longer than the per-beat
    allowance keep the pings going; a write that hangs stops them within the allowance
    (margin 0.5 s + slack 0.3 s), not the generous whole-airing allowance; they resume
    when the airing ends."""
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # ping every 50 ms
    monkeypatch.setattr(watchdog_module, "PROGRESS_SLACK_S", 0.3)
    config = _station_config(tmp_path)
    sf.write(tmp_path / "seg.wav", np.zeros(8000, dtype=np.float32), 8000)
    daemon = Daemon(config, pin_factory=MockFactory())
    runner = SimpleNamespace(current_airing=None)  # stands in for SlotRunner.current_airing
    daemon.slot_runner = runner
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    audio = BlocksThenHang(blocks_s=1.5)
    try:
        systemd_socket.wait_for("READY=1")
        assert daemon.outbox is not None
        airer = Airer(daemon.amplifier, audio, daemon.outbox, SystemClock(), config,
                      on_progress=daemon.supervisor.feed_player(), clock_synced=lambda: True,
                      boot_id="boot-1")
        allowance = StationSupervisor.progress_allowance_s(config)
        assert allowance == pytest.approx(0.5 + 0.3)
        assert allowance < StationSupervisor.airing_allowance_s(config, SimpleNamespace())
        segment = Segment(id="seg", title="t", program="p", topic="policy", sha256="ab" * 32)
        airing = threading.Thread(target=airer.air, args=(segment, tmp_path / "seg.wav"), daemon=True)
        runner.current_airing = SimpleNamespace(thread=airing)
        daemon.wake()
        airing.start()
        time.sleep(allowance + 0.2)  # blocks flowing past the per-beat allowance: pings go on
        systemd_socket.drain()
        assert not audio.hanging.is_set()
        assert "WATCHDOG=1" in systemd_socket.wait_for("WATCHDOG=1", timeout_s=0.3)
        assert audio.hanging.wait(5)
        time.sleep(allowance + 0.2)  # the write hangs
        systemd_socket.drain()
        time.sleep(0.4)
        assert "WATCHDOG=1" not in systemd_socket.drain()
        audio.released.set()  # the write returns, the airing ends: pings resume
        airing.join(5)
        runner.current_airing = None
        daemon.wake()
        assert "WATCHDOG=1" in systemd_socket.wait_for("WATCHDOG=1")
    finally:
        audio.released.set()
        daemon.request_stop("test")
        thread.join(10)
