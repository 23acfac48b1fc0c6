"""Evidence when storage fails: a damaged or lost outbox (``check`` says so; the next
start moves it aside and continues the seq numbers with a signed ``outbox-reset`` event)
and a full disk (a real small tmpfs: the reserve is released so the event is still
recorded, and ``storage_error`` shows in the status and in ``check``)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testkit import event_lines, keygen, make_tone, run, verified, write_config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gpiozero.pins.mock import MockFactory

from firmware_daemon.airing.outbox import Outbox, OutboxFullError, is_disk_full
from firmware_daemon.airing.outbox_marker import SLOT_BYTES, OutboxMarker, read_marker
from firmware_daemon.airing.outbox_recovery import open_station_outbox
from firmware_daemon.config import load_station_config
from firmware_daemon.daemon import FULL_RETRY_S, Daemon
from firmware_daemon.service.status import StationState, StatusBuilder
from firmware_daemon.service.storage import StorageGuard
from radio_protocol.clock import SystemClock
from radio_protocol.jose import Signer, canonical_json, parse_jws


def _play(config: Path, name: str) -> int:
    return run(config, "play", str(make_tone(config.parent / f"{name}.wav", seconds=0.2)))


def test_outbox_truncated_to_zero_is_detected_and_seqs_continue(
        tmp_path: Path, capture_file: Path, factory: MockFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    jwk = keygen(config, capsys)
    assert _play(config, "a") == 0 and _play(config, "b") == 0
    before = verified(event_lines(config, capsys), jwk)
    outbox_path = tmp_path / "data" / "outbox.sqlite"
    outbox_path.write_bytes(b"")  # the SD card lost the file's contents
    capsys.readouterr()
    assert run(config, "check") == 1
    assert "outbox missing, but its marker says seq 2 was recorded" in capsys.readouterr().out
    assert _play(config, "c") == 0
    reset, airing = verified(event_lines(config, capsys), jwk)
    prev2 = hashlib.sha256(canonical_json(before[1])).hexdigest()
    assert (reset["type"], reset["seq"], reset["prev"]) == ("outbox-reset", 3, prev2)
    assert (reset["reason"], reset["last_known_seq"], reset["found_seq"]) == ("outbox-missing", 2, 0)
    assert (tmp_path / "data" / reset["moved_to"]).exists()  # kept as evidence
    assert (airing["seq"], airing["outcome"], airing["segment"]["id"]) == (4, "completed", "manual-c")
    capsys.readouterr()
    assert run(config, "check") == 0


def test_outbox_malformed_is_reported_by_check_and_moved_aside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    keygen(config, capsys)
    station = load_station_config(config)
    signer = Signer(Ed25519PrivateKey.generate())
    with Outbox(station.outbox_path, signer) as outbox:
        for _ in range(300):
            outbox.append(lambda seq, prev: {"seq": seq, "prev": prev, "pad": "x" * 300})
    data = station.outbox_path.read_bytes()
    station.outbox_path.write_bytes(data[:len(data) // 2])
    capsys.readouterr()
    assert run(config, "check") == 1
    assert "database disk image is malformed" in capsys.readouterr().out
    outbox, loss = open_station_outbox(station.outbox_path, signer, SystemClock())
    with outbox:
        assert loss is not None and loss.reason == "outbox-malformed"
        assert (loss.last_known_seq, loss.next_seq, loss.found_seq) == (300, 301, None)
        entry = outbox.append(lambda seq, prev: {"seq": seq, "prev": prev})
        assert entry.seq == 301 and entry.payload["prev"] == loss.prev is not None
        moved = station.outbox_path.with_name(str(loss.moved_to))
        assert moved.read_bytes() == data[:len(data) // 2]  # untouched


@contextlib.contextmanager
def small_disk(path: Path, size: str = "3m") -> Iterator[Path]:
    """A real tmpfs of ``size`` at ``path`` (root in a container); skip when not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the disk is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\1" * size)
    finally:
        os.close(fd)


def test_disk_full_releases_the_reserve_records_and_reports(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    with small_disk(tmp_path / "data") as data:
        keygen(config, capsys)
        guard = StorageGuard(data, reserve_bytes=512 * 1024, min_free=64 * 1024)
        assert guard.look() is None and guard.reserve_present()
        signer = Signer(Ed25519PrivateKey.generate())
        state = StationState()
        state.storage_source = lambda: guard.error
        builder = StatusBuilder(station="dak-koi-01", signer=signer, clock=SystemClock(), state=state,
                                clock_synced=lambda: True)
        assert "storage_error" not in builder.payload("online", outbox_pending=0, last_seq=0)
        unguarded = Outbox(data / "other.sqlite", signer)
        with Outbox(data / "outbox.sqlite", signer, on_full=guard.on_full) as outbox:
            outbox.append(lambda seq, prev: {"seq": seq, "prev": prev})
            fill(data / "filler")
            with pytest.raises(OutboxFullError):  # without a reserve: lost
                for _ in range(50):
                    unguarded.append(lambda seq, prev: {"seq": seq, "prev": prev, "pad": "y" * 4000})
            unguarded.close()
            entry = outbox.append(lambda seq, prev: {"seq": seq, "prev": prev, "pad": "z" * 4000})
            assert entry.seq == 2 and not guard.reserve_present()
        error = guard.look()
        assert error is not None and "disk-full" in error and "storage reserve not in place" in error
        status = builder.payload("online", outbox_pending=1, last_seq=2)
        assert status["storage_error"] == error
        capsys.readouterr()
        assert run(config, "check") == 1
        assert "disk-low:" in capsys.readouterr().out
        (data / "filler").unlink()
        assert guard.look() is None and guard.reserve_present()
        assert "storage_error" not in builder.payload("online", outbox_pending=0, last_seq=2)


def test_daemon_timer_failing_on_a_full_disk_releases_the_reserve(tmp_path: Path) -> None:
    """The slot store's ``database or disk is full`` (a real SQLite error on a full tmpfs)
    releases the reserve and retries at once instead of 60 s later, and shows in the status."""
    config = load_station_config(write_config(tmp_path))
    with small_disk(config.data_dir, "1m") as data:
        daemon = Daemon(config)
        daemon.storage.reserve_bytes = 256 * 1024
        daemon.storage.min_free = 16 * 1024
        daemon.state.storage_source = lambda: daemon.storage.error
        assert daemon.storage.ensure_reserve()
        fill(data / "filler")
        db = sqlite3.connect(data / "slots.sqlite3", isolation_level=None)
        failures: list[BaseException] = []

        def slot_mark(now_mono: float) -> float:
            try:
                db.execute("CREATE TABLE IF NOT EXISTS t(x)")
                db.execute("INSERT INTO t VALUES (?)", ("x" * 200_000,))
            except sqlite3.Error as exc:
                failures.append(exc)
                raise
            return now_mono + 60

        timer = daemon.add_timer("schedule", slot_mark)
        daemon._fire(timer, 100.0)
        assert failures and is_disk_full(failures[0]) and "full" in str(failures[0])
        assert timer.next_mono == 100.0 + FULL_RETRY_S and not daemon.storage.reserve_present()
        assert daemon.state.storage_error is not None and "disk-full" in daemon.state.storage_error
        daemon._fire(timer, 101.0)  # the released reserve is room enough to write
        assert timer.next_mono == 161.0 and len(failures) == 1
        db.close()


def test_outbox_marker_follows_every_commit_and_survives_a_torn_slot(tmp_path: Path) -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    with Outbox(tmp_path / "outbox.sqlite", signer) as outbox:
        entries = [outbox.append(lambda seq, prev: {"seq": seq, "prev": prev}) for _ in range(3)]
    path = tmp_path / "outbox.last"
    digests = [hashlib.sha256(parse_jws(e.jws)[2]).hexdigest() for e in entries]
    assert read_marker(path) == OutboxMarker(3, digests[2])
    data = bytearray(path.read_bytes())
    newest = 0 if data.startswith(b"3 ") else SLOT_BYTES
    data[newest + 5:newest + 40] = b"\0" * 35  # a torn write of the newest slot
    path.write_bytes(bytes(data))
    assert read_marker(path) == OutboxMarker(2, digests[1])  # the other slot still reads
