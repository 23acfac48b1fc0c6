"""Bulletin slots (``until``) in the slot runner: late start while valid, ``expired`` after,
waiting for media instead of failing, and a ``priority`` airing never stopped by a normal slot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner_testkit import DISTRICT, HeldAudio, Station, pump, start, vn
from schedule_testkit import SHA_B, payload, segment, sha256_hex

from radio_protocol.clock import SimulatedClock
from radio_protocol.names import SCHEDULE_TYP

AT, UNTIL = "2024-03-05T08:00:00.000+07:00", "2024-03-05T09:00:00.000+07:00"


def bulletin_schedule(wav: bytes, priority: str = "emergency", sha: str | None = None,
                      extra: list[dict[str, Any]] | None = None) -> bytes:
    segs = [segment("bulletin-1", priority=priority, sha=sha or sha256_hex(wav), size=len(wav))]
    segs += [segment("norm", sha=sha256_hex(wav), size=len(wav))] if extra else []
    slots = [{"segment": "bulletin-1", "at": AT, "until": UNTIL}, *(extra or [])]
    return DISTRICT.sign(payload(segments=segs, slots=slots), SCHEDULE_TYP)


def test_bulletin_received_late_airs_while_valid(tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 8, 40))  # 40 minutes after the bulletin's time
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(bulletin_schedule(wav)).accepted
    pump(st, lambda: len(st.events()) == 1 and not st.runner.busy)
    (event,) = st.events()
    assert (event["outcome"], event["priority"], event["slot"]) == ("completed", "emergency", AT)


def test_bulletin_received_after_its_validity_is_missed_expired(tmp_path: Path, wav: bytes,
                                                                stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 9, 0, 1))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(bulletin_schedule(wav)).accepted
    st.runner.step()
    st.runner.step()  # recorded once
    assert st.summary() == [("bulletin-1", AT, "missed", "expired")]


def test_bulletin_waits_for_its_media_then_missed_media_missing(tmp_path: Path, wav: bytes,
                                                                stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 8, 0, 5))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(bulletin_schedule(wav, sha=SHA_B)).accepted  # not fetchable
    st.runner.step()
    assert st.events() == [] and not st.runner.busy  # no "failed" at once: it waits
    clock.advance(3600)
    st.runner.step()
    assert st.summary() == [("bulletin-1", AT, "missed", "media-missing")]


def test_priority_bulletin_is_not_preempted_by_a_normal_slot(tmp_path: Path, wav: bytes,
                                                             stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 7, 59, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    normal = [{"segment": "norm", "at": "2024-03-05T08:01:00+07:00"}]
    assert st.runner.on_schedule(bulletin_schedule(wav, priority="priority", extra=normal)).accepted
    st.runner.step()
    assert audio.playing.wait(5)
    clock.advance(70)  # the normal slot is due while the bulletin is on the air
    pump(st, lambda: st.runner.busy)
    st.runner.step()
    assert st.runner.current_airing is not None and st.runner.current_airing.slot.segment.id == "bulletin-1"
    audio.finish.set()
    pump(st, lambda: audio.started == 2 and audio.playing.is_set())
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert [(e["segment"]["id"], e["outcome"], e["reason"], e["priority"]) for e in st.events()] == [
        ("bulletin-1", "completed", None, "priority"), ("norm", "completed", None, "normal")]
