"""``radio-station play`` end to end: real PortAudio through the ALSA file plugin,
gpiozero's MockFactory, a real SQLite outbox, events verified with our code and with
jwcrypto."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_testkit import (
    PIN,
    REPO,
    WARMUP_S,
    assert_protocol_shape,
    captured_samples,
    event_lines,
    file_samples,
    keygen,
    make_tone,
    run,
    verified,
    write_config,
)
from gpiozero.pins.mock import MockFactory
from jwcrypto import jws as jw_jws

from firmware_daemon.cli import main
from firmware_daemon.service.sysinfo import kernel_clock_synced


def test_cli_play_sends_the_file_exactly_after_warmup(
        tmp_path: Path, capture_file: Path, factory: MockFactory,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sounddevice

    first_write: list[float] = []
    real_write = sounddevice.OutputStream.write

    def timed_write(self: Any, data: Any) -> Any:
        if not first_write and np.any(np.asarray(data)):
            first_write.append(time.monotonic())
        return real_write(self, data)

    monkeypatch.setattr(sounddevice.OutputStream, "write", timed_write)
    config = write_config(tmp_path)
    jwk = keygen(config, capsys)
    media = make_tone(tmp_path / "chuyen-doi-so.wav")
    pin = factory.pin(PIN)
    assert run(config, "play", str(media), "--title", "Chuyển đổi số là gì?",
               "--program", "chuyen-doi-so", "--topic", "policy") == 0
    assert capsys.readouterr().out.startswith("aired: completed seq=1 ")

    assert np.array_equal(captured_samples(capture_file), file_samples(media))
    assert [s.state for s in pin.states] == [False, True, False]
    (on_mono, _), (off_mono, _) = pin.changes
    assert first_write and first_write[0] - on_mono >= WARMUP_S
    assert off_mono - first_write[0] >= 0.1  # the tail

    (payload,) = verified(event_lines(config, capsys), jwk)
    assert payload["segment"] == {"id": "manual-chuyen-doi-so", "title": "Chuyển đổi số là gì?",
                                  "program": "chuyen-doi-so", "topic": "policy",
                                  "sha256": hashlib.sha256(media.read_bytes()).hexdigest()}
    assert (payload["outcome"], payload["reason"], payload["seq"], payload["prev"]) == \
        ("completed", None, 1, None)
    assert (payload["played_s"], payload["media_s"], payload["slot"]) == (0.5, 0.5, None)
    assert payload["priority"] == "normal" and payload["schedule_version"] is None
    assert payload["level"]["peak_dbfs"] == pytest.approx(20 * np.log10(0.4), abs=0.05)
    assert payload["level"]["rms_dbfs"] == pytest.approx(20 * np.log10(0.4 / np.sqrt(2)), abs=0.1)
    assert payload["level"]["silent_s"] == 0.0
    for when in (payload["started_at"], payload["ended_at"], payload["amp"]["on_at"],
                 payload["amp"]["off_at"]):
        assert when.endswith("+07:00") and len(when) == len("2024-03-05T06:30:00.012+07:00")
    assert payload["clock_synced"] is kernel_clock_synced()  # adjtimex (checked in sysinfo)
    assert_protocol_shape(payload)
    assert payload["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_cli_play_chains_events_and_uses_the_configured_offset(
        tmp_path: Path, capture_file: Path, factory: MockFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, warmup_s=0.0, timezone="Asia/Kolkata")
    jwk = keygen(config, capsys)
    media = make_tone(tmp_path / "a.wav", seconds=0.2)
    for _ in range(3):
        assert run(config, "play", str(media)) == 0
    assert "'general' does not count" in capsys.readouterr().err
    lines = event_lines(config, capsys)
    payloads = verified(lines, jwk)
    assert [p["seq"] for p in payloads] == [1, 2, 3]
    assert payloads[0]["prev"] is None
    for before, after in zip(lines, payloads[1:], strict=False):
        payload_b64 = json.loads(before)["payload"]
        raw = jw_jws.base64url_decode(payload_b64)
        assert after["prev"] == hashlib.sha256(raw).hexdigest()
    assert all(p["started_at"].endswith("+05:30") for p in payloads)
    assert event_lines(config, capsys, "--since", "2") == lines[2:]
    conn = sqlite3.connect(tmp_path / "data" / "outbox.sqlite")
    stored = [bytes(r[0]) for r in conn.execute("SELECT jws FROM events ORDER BY seq")]
    conn.close()
    assert lines == stored  # the exact stored bytes, never re-serialized
    assert payloads[0]["segment"]["program"] == "general"


def test_cli_play_subprocess_real_entry(tmp_path: Path, capture_file: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    media = make_tone(tmp_path / "seg.wav", seconds=0.3)
    cmd = [sys.executable, "-m", "firmware_daemon.cli", "-c", str(config)]
    done = subprocess.run(cmd + ["keygen"], capture_output=True, cwd=REPO, timeout=30)
    jwk = json.loads(done.stdout)
    done = subprocess.run(cmd + ["play", str(media), "--program", "chuyen-doi-so"],
                          capture_output=True, cwd=REPO, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    assert b"aired: completed seq=1" in done.stdout
    assert b"airing completed station=dak-koi-01 seq=1 segment=manual-seg" in done.stderr
    assert np.array_equal(captured_samples(capture_file), file_samples(media))
    out = subprocess.run(cmd + ["events"], capture_output=True, cwd=REPO, timeout=30).stdout
    (payload,) = verified(out.splitlines(), jwk)
    assert payload["outcome"] == "completed" and payload["played_s"] == 0.3


def test_cli_play_dead_device_records_failed(tmp_path: Path, capture_file: Path,
                                             factory: MockFactory,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, device="no-such-card", warmup_s=5.0)
    jwk = keygen(config, capsys)
    pin = factory.pin(PIN)
    begun = time.monotonic()
    assert run(config, "play", str(make_tone(tmp_path / "a.wav"))) == 1
    assert time.monotonic() - begun < 5.0  # no warm-up was waited: the amp never went on
    assert "reason=audio-device" in capsys.readouterr().err
    (payload,) = verified(event_lines(config, capsys), jwk)
    assert (payload["outcome"], payload["reason"], payload["played_s"], payload["media_s"]) == \
        ("failed", "audio-device", 0.0, 0.5)
    assert [s.state for s in pin.states] == [False]  # the public loudspeaker never powered
    assert payload["amp"] == {"on_at": None, "off_at": None, "confirmed": None}
    assert not capture_file.exists()
    assert_protocol_shape(payload)


def test_cli_play_missing_media_records_failed(tmp_path: Path, capture_file: Path,
                                               factory: MockFactory,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    jwk = keygen(config, capsys)
    pin = factory.pin(PIN)
    assert run(config, "play", str(tmp_path / "nope.mp3")) == 1
    assert "reason=media-missing" in capsys.readouterr().err
    (payload,) = verified(event_lines(config, capsys), jwk)
    assert (payload["outcome"], payload["reason"]) == ("failed", "media-missing")
    assert payload["segment"]["sha256"] is None
    assert_protocol_shape(payload)
    assert [s.state for s in pin.states] == [False]  # never switched on


def test_cli_play_sigterm_in_process_switches_amp_off(
        tmp_path: Path, capture_file: Path, factory: MockFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, warmup_s=5.0)
    jwk = keygen(config, capsys)
    pin = factory.pin(PIN)

    def kill_when_amp_on() -> None:
        deadline = time.monotonic() + 10
        while not pin.state and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGTERM)

    handler_before = signal.getsignal(signal.SIGTERM)
    killer = threading.Thread(target=kill_when_amp_on)
    killer.start()
    rc = run(config, "play", str(make_tone(tmp_path / "a.wav")))
    killer.join()
    assert rc == 128 + signal.SIGTERM
    assert [s.state for s in pin.states] == [False, True, False]
    assert pin.states[-1].timestamp < 1.0  # off at once, not after the 5 s warm-up
    assert signal.getsignal(signal.SIGTERM) == handler_before  # handler restored
    (payload,) = verified(event_lines(config, capsys), jwk)
    assert (payload["outcome"], payload["reason"]) == ("interrupted", "shutdown")
    assert capture_file.exists() is False or captured_samples(capture_file).size == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_play_signal_during_warmup_subprocess_records_interrupted(
        tmp_path: Path, capture_file: Path, signum: signal.Signals) -> None:
    config = write_config(tmp_path, warmup_s=5.0)
    cmd = [sys.executable, "-m", "firmware_daemon.cli", "-c", str(config)]
    jwk = json.loads(subprocess.run(cmd + ["keygen"], capture_output=True, cwd=REPO,
                                    timeout=30).stdout)
    proc = subprocess.Popen(cmd + ["play", str(make_tone(tmp_path / "a.wav"))], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line.decode())
        if "amplifier on pin=17" in seen[-1]:
            break
    started = time.monotonic()
    proc.send_signal(signum)
    _, rest = proc.communicate(timeout=10)
    assert time.monotonic() - started < 2.0  # not after the 5 s warm-up
    log = "".join(seen) + rest.decode()
    assert proc.returncode == 128 + signum, log
    assert "amplifier off pin=17" in log.split("amplifier on pin=17", 1)[1]
    assert "airing interrupted station=dak-koi-01 seq=1" in log
    out = subprocess.run(cmd + ["events"], capture_output=True, cwd=REPO, timeout=30).stdout
    (payload,) = verified(out.splitlines(), jwk)
    assert (payload["outcome"], payload["reason"]) == ("interrupted", "shutdown")
    assert payload["amp"]["on_at"] is not None and payload["amp"]["off_at"] is not None


def test_cli_play_without_key_says_run_keygen(tmp_path: Path, factory: MockFactory,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert run(config, "play", str(make_tone(tmp_path / "a.wav"))) == 1
    assert "run keygen" in capsys.readouterr().err
    assert factory.pins == {}  # the amplifier was never touched


def test_cli_play_help_says_only_chuyen_doi_so_counts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["play", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default general). Only --program chuyen-doi-so" in text
    assert "counts for the district's broadcast-frequency score" in text


def test_cli_play_active_low_relay_exact_pin_sequence(
        tmp_path: Path, capture_file: Path, factory: MockFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, active_high=False, warmup_s=0.0)
    keygen(config, capsys)
    pin = factory.pin(PIN)
    assert run(config, "play", str(make_tone(tmp_path / "a.wav", seconds=0.1))) == 0
    # low until the device exists, high (off) at once, low (on) for the airing, high (off)
    assert [s.state for s in pin.states] == [False, True, False, True]
    assert pin.state is True
