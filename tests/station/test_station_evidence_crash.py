"""Evidence when the station dies mid-airing: the start (and progress) recorded durably
before the amp went on becomes an honest ``interrupted``/``station-down`` event at the
next start, for a manual ``play`` killed with SIGKILL and for a scheduled slot."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from airing_testkit import SEGMENT, START_AT, Rig, make_rig, tone
from cli_testkit import REPO, make_tone, verified, write_config
from gpiozero.pins.mock import MockFactory

from firmware_daemon.airing.airer import Airer
from firmware_daemon.airing.in_progress import IN_PROGRESS_KEY, PROGRESS_MARK_S
from firmware_daemon.airing.start_recovery import recover_at_start
from firmware_daemon.cli import main
from firmware_daemon.schedule.restart import settle_after_restart
from firmware_daemon.schedule.store import ScheduleStore
from hal.fake import FakeAudioOutput
from radio_protocol.jose import KeyRing
from radio_protocol.timefmt import parse_rfc3339


class Crash(BaseException):
    """The process dying: nothing in the Airer catches it, so nothing is committed."""


def crashing_airer(rig: Rig, after_s: float) -> Airer:
    """The rig's Airer, but the process "dies" once the amp has been on for ``after_s``."""
    on_mono: list[float] = []

    def beat() -> None:
        if rig.amp.is_on and not on_mono:
            on_mono.append(rig.clock.monotonic())
        if on_mono and rig.clock.monotonic() - on_mono[0] >= after_s:
            raise Crash()

    return Airer(rig.amp, rig.audio, rig.outbox, rig.clock, rig.config, clock_synced=lambda: True,
                 boot_id="boot-1", on_progress=beat)


def test_airing_crash_mid_airing_is_recorded_interrupted_with_what_went_out(
        tmp_path: Path, rigs: list[Rig]) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    media = tone(tmp_path / "long.wav", seconds=60.0)
    try:
        crashing_airer(rig, 2.0 + 25.0).air(SEGMENT, media)  # dies ~25 s into the audio
    except Crash:
        pass
    assert rig.outbox.last_seq() == 0  # nothing was committed: the process died
    assert rig.outbox.get_meta(IN_PROGRESS_KEY) is not None
    (payload,) = recover_at_start(rig.outbox, None, rig.config, rig.clock, boot_id="boot-2",
                                  clock_synced=lambda: True)
    assert (payload["seq"], payload["outcome"], payload["reason"]) == (1, "interrupted", "station-down")
    on_at = parse_rfc3339(payload["amp"]["on_at"])
    assert on_at == START_AT  # the amp went on at once (no slot) and the mark says when
    assert payload["amp"]["off_at"] is None  # not known: the station was dead
    assert PROGRESS_MARK_S <= payload["played_s"] <= 60.0  # what the last progress mark said
    started_at = parse_rfc3339(payload["started_at"])
    assert started_at == on_at + timedelta(seconds=2.0)  # after the warm-up
    assert parse_rfc3339(payload["ended_at"]) >= started_at + timedelta(seconds=payload["played_s"])
    assert payload["segment"]["id"] == SEGMENT.id and payload["boot_id"] == "boot-2"
    assert rig.outbox.get_meta(IN_PROGRESS_KEY) is None  # deleted with the commit
    assert recover_at_start(rig.outbox, None, rig.config, rig.clock) == []  # only once
    assert [p["seq"] for p in rig.stored()] == [1]


def test_airing_completed_leaves_no_in_progress_mark(tmp_path: Path, rigs: list[Rig], media: Path) -> None:
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    assert rig.airer.air(SEGMENT, media)["outcome"] == "completed"
    assert rig.outbox.get_meta(IN_PROGRESS_KEY) is None
    assert recover_at_start(rig.outbox, None, rig.config, rig.clock) == []


def test_scheduled_slot_crash_settles_as_aired_with_one_interrupted_event(
        tmp_path: Path, rigs: list[Rig]) -> None:
    """The slot's ``started`` mark and the airing's mark agree after a crash: one
    ``interrupted``/``station-down`` event with the amp time, no extra ``failed`` one."""
    rig = make_rig(rigs, tmp_path, FakeAudioOutput())
    store = ScheduleStore(rig.config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([]))
    slot_at = START_AT + timedelta(seconds=5)
    key = f"{slot_at.isoformat()}|{SEGMENT.id}"
    store.mark(key, slot_at, SEGMENT.id, 7, "started", START_AT, rig.outbox.last_seq())
    try:
        crashing_airer(rig, 4.0).air(SEGMENT, tone(tmp_path / "a.wav", 30.0), slot_at=slot_at,
                                     schedule_version=7)
    except Crash:
        pass
    recover_at_start(rig.outbox, None, rig.config, rig.clock, boot_id="boot-2")
    settle_after_restart(store, rig.airer, rig.outbox, rig.clock)
    payloads = rig.stored()
    assert [(p["outcome"], p["reason"]) for p in payloads] == [("interrupted", "station-down")]
    assert parse_rfc3339(payloads[0]["slot"]) == slot_at and payloads[0]["schedule_version"] == 7
    assert parse_rfc3339(payloads[0]["amp"]["on_at"]) == slot_at - timedelta(seconds=2.0)
    assert [(r.key, r.state) for r in store.slots_in_state("aired")] == [(key, "aired")]
    store.close()


def test_cli_play_killed_mid_airing_is_recorded_interrupted_at_next_play(
        tmp_path: Path, capture_file: Path, factory: MockFactory) -> None:
    config = write_config(tmp_path, warmup_s=5.0)
    cmd = [sys.executable, "-m", "firmware_daemon.cli", "-c", str(config)]
    jwk = json.loads(subprocess.run(cmd + ["keygen"], capture_output=True, cwd=REPO,
                                    timeout=30).stdout)
    proc = subprocess.Popen(cmd + ["play", str(make_tone(tmp_path / "a.wav"))], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    for line in proc.stderr:
        if b"amplifier on pin=17" in line:
            break
    proc.send_signal(signal.SIGKILL)  # no handler runs: the process just dies
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert main(["-c", str(config), "play", str(make_tone(tmp_path / "b.wav", seconds=0.2))]) == 0
    out = subprocess.run(cmd + ["events"], capture_output=True, cwd=REPO, timeout=30).stdout
    first, second = verified(out.splitlines(), jwk)
    assert (first["seq"], first["outcome"], first["reason"]) == (1, "interrupted", "station-down")
    assert first["amp"]["on_at"] is not None and first["played_s"] == 0.0  # still warming up
    assert first["segment"]["id"] == "manual-a"
    assert (second["seq"], second["outcome"], second["segment"]["id"]) == (2, "completed", "manual-b")
