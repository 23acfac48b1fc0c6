"""The airing sequence with gpiozero's MockFactory and hal's FakeAudioOutput: every path
ends with the amplifier off and a signed, chained event saying what happened."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from airing_testkit import (
    ON_OFF,
    SEGMENT,
    START_AT,
    Rig,
    make_rig,
)

from hal.audio import AudioOutput, PlaybackResult, PreparedAudio, file_sha256
from hal.errors import AudioDeviceError
from hal.fake import FakeAudioOutput
from radio_protocol.clock import SystemClock
from radio_protocol.jose import KeyRing, verify
from radio_protocol.names import EVENT_TYP
from radio_protocol.timefmt import parse_rfc3339


def test_airing_completed_event_times_and_pins(tmp_path: Path, media: Path,
                                               rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    payload = rig.airer.air(SEGMENT, media, slot_at=START_AT + timedelta(seconds=2),
                            schedule_version=7)
    assert rig.states() == [False, True, False]
    assert list(payload) == ["v", "type", "district", "station", "commune", "seq", "prev",
                             "segment", "priority", "schedule_version", "slot", "started_at",
                             "ended_at", "played_s", "media_s", "outcome", "reason", "amp",
                             "level", "clock_synced", "boot_id", "sw"]
    assert payload["segment"] == {"id": "cds-2024-03-a", "title": "Chuyển đổi số là gì?",
                                  "program": "chuyen-doi-so", "topic": "policy",
                                  "sha256": "ab" * 32}
    assert payload["slot"] == "2024-03-05T06:30:00.000+07:00"
    assert payload["amp"]["on_at"] == "2024-03-05T06:29:58.000+07:00"
    assert payload["amp"]["confirmed"] is None
    on_at = parse_rfc3339(payload["amp"]["on_at"])
    started_at = parse_rfc3339(payload["started_at"])
    ended_at = parse_rfc3339(payload["ended_at"])
    off_at = parse_rfc3339(payload["amp"]["off_at"])
    assert (started_at - on_at).total_seconds() == pytest.approx(2.0)  # warm-up
    assert (ended_at - started_at).total_seconds() == pytest.approx(1.5)  # simulated audio time
    assert (off_at - ended_at).total_seconds() == pytest.approx(1.0, abs=0.06)  # tail
    assert (payload["outcome"], payload["reason"], payload["played_s"], payload["media_s"]) == \
        ("completed", None, 1.5, 1.5)
    assert payload["level"]["peak_dbfs"] == pytest.approx(-6.02, abs=0.05)
    assert payload["level"]["rms_dbfs"] == pytest.approx(-9.03, abs=0.05)
    assert (payload["schedule_version"], payload["clock_synced"], payload["boot_id"]) == \
        (7, True, "boot-1")
    assert rig.stored() == [payload]


@pytest.mark.parametrize("slot_in_s,amp_on_in_s,first_sample_in_s", [
    (3.0, 1.0, 3.0),  # started early: amp on at slot - warm-up, first sample at the slot
    (2.0, 0.0, 2.0),  # started exactly warm-up before
    (0.5, 0.0, 2.0),  # started late (within grace): the full warm-up still comes first
    (-5.0, 0.0, 2.0),
])
def test_airing_waits_for_the_slot_to_switch_on_and_start(tmp_path: Path, media: Path, rigs: list[Rig],
                                                          slot_in_s: float, amp_on_in_s: float,
                                                          first_sample_in_s: float) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    payload = rig.airer.air(SEGMENT, media, slot_at=START_AT + timedelta(seconds=slot_in_s))
    on_at = parse_rfc3339(payload["amp"]["on_at"])
    started_at = parse_rfc3339(payload["started_at"])
    assert (on_at - START_AT).total_seconds() == pytest.approx(amp_on_in_s)
    assert (started_at - START_AT).total_seconds() == pytest.approx(first_sample_in_s)
    assert payload["outcome"] == "completed" and rig.states() == [False, True, False]


def test_airing_stop_before_the_amp_time_never_switches_on(tmp_path: Path, media: Path,
                                                           rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput(), clock=SystemClock())
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    slot_at = rig.clock.now() + timedelta(seconds=30)
    payload = rig.airer.air(SEGMENT, media, slot_at=slot_at, stop=stop)
    assert (payload["outcome"], payload["reason"], payload["amp"]["on_at"]) == ("failed", "shutdown", None)
    assert rig.states() == [False]


@pytest.mark.parametrize("player", [FakeAudioOutput, lambda: _OpensDeviceLate(FakeAudioOutput())],
                         ids=["on_block", "no-block-reports"])
def test_airing_on_a_simulated_clock_audio_takes_its_played_time(tmp_path: Path, media: Path,
                                                                 rigs: list[Rig], player: Any) -> None:
    rig = make_rig(rigs, tmp_path, player())
    before = rig.clock.monotonic()
    payload = rig.airer.air(SEGMENT, media)
    started_at, ended_at = parse_rfc3339(payload["started_at"]), parse_rfc3339(payload["ended_at"])
    off_at = parse_rfc3339(payload["amp"]["off_at"])
    assert payload["played_s"] == 1.5
    assert (ended_at - started_at).total_seconds() == pytest.approx(1.5)
    assert (off_at - started_at).total_seconds() == pytest.approx(1.5 + 1.0, abs=0.06)  # + tail
    assert rig.clock.monotonic() - before == pytest.approx(2.0 + 1.5 + 1.0, abs=0.3)


def test_airing_seq_and_prev_chain_across_outcomes(tmp_path: Path, media: Path,
                                                   rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    rig.airer.air(SEGMENT, media)
    rig.airer.record_missed(SEGMENT, slot_at=START_AT, reason="station-down", schedule_version=3)
    rig.airer.record_failed(SEGMENT, reason="clock-unsynced", slot_at=START_AT)
    stored = rig.stored()
    assert [p["seq"] for p in stored] == [1, 2, 3]
    assert [(p["outcome"], p["reason"]) for p in stored] == [
        ("completed", None), ("missed", "station-down"), ("failed", "clock-unsynced")]
    assert stored[1]["started_at"] == "2024-03-05T06:29:58.000+07:00"
    assert stored[1]["amp"] == {"on_at": None, "off_at": None, "confirmed": None}
    ring = KeyRing.from_jwks([rig.signer.public_jwk])
    raw = [verify(j, ring, EVENT_TYP).payload_bytes for j in rig.outbox.events(0)]
    assert [p["prev"] for p in stored] == [None] + [hashlib.sha256(b).hexdigest()
                                                    for b in raw[:-1]]


@pytest.mark.parametrize(("connected", "confirmed"), [(True, True), (False, False)])
def test_airing_amp_feedback_confirms(tmp_path: Path, media: Path, rigs: list[Rig],
                                      connected: bool, confirmed: bool) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput(), feedback=connected)
    payload = rig.airer.air(SEGMENT, media)
    assert payload["amp"]["confirmed"] is confirmed
    assert rig.states() == [False, True, False]


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, (1 << 20) + 7, 3 << 20])
def test_airing_file_sha256_matches_hashlib_across_chunk_borders(tmp_path: Path, size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError):
        file_sha256(tmp_path / "missing.bin")


class _OpensDeviceLate(AudioOutput):
    """A backend whose ``prepare`` checks nothing: media and device are opened only when
    the playback runs (the whole ``play`` of ``inner``), after the amplifier is on; it
    reports no blocks (``on_block`` is never called)."""

    def __init__(self, inner: FakeAudioOutput) -> None:
        self.inner = inner

    def prepare(self, path: str | os.PathLike[str], *, margin_s: float = 5.0) -> PreparedAudio:
        return _LatePlayback(self.inner, path, margin_s)


class _LatePlayback(PreparedAudio):
    def __init__(self, inner: FakeAudioOutput, path: str | os.PathLike[str],
                 margin_s: float) -> None:
        super().__init__(path, inner.probe(path))
        self.inner = inner
        self.margin_s = margin_s

    def _play(self, *, stop: threading.Event | None, on_start: Callable[[], None] | None,
              on_block: Callable[[float], None] | None) -> PlaybackResult:
        return self.inner.play(self.path, stop=stop, margin_s=self.margin_s, on_start=on_start)


@pytest.mark.parametrize(("fail", "outcome", "states"), [
    (None, "completed", ON_OFF),
    (AudioDeviceError("no card"), "failed", ON_OFF),  # found only once the amp is on
])
def test_airing_backend_opening_device_late_still_airs(tmp_path: Path, media: Path,
                                                       rigs: list[Rig],
                                                       fail: AudioDeviceError | None,
                                                       outcome: str, states: list[bool]) -> None:
    rig = make_rig(rigs, tmp_path, _OpensDeviceLate(FakeAudioOutput(fail_with=fail)))
    payload = rig.airer.air(SEGMENT, media)
    assert payload["outcome"] == outcome and payload["media_s"] == 1.5
    assert rig.states() == states
