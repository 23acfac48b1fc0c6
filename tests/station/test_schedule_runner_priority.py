"""The slot runner with airings that overlap: pre-emption by an emergency, overruns, and
shutdown in the middle of an airing."""

from __future__ import annotations

from pathlib import Path

from runner_testkit import (
    DISTRICT,
    HeldAudio,
    Station,
    pump,
    schedule_jws,
    start,
    vn,
)
from schedule_testkit import payload, segment, sha256_hex

from radio_protocol.clock import SimulatedClock
from radio_protocol.names import SCHEDULE_TYP


def test_runner_current_airing_names_the_slot_in_progress(tmp_path: Path, wav: bytes,
                                                         stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    assert st.runner.current_airing is None
    st.runner.step()
    assert audio.playing.wait(5)
    airing = st.runner.current_airing
    assert airing is not None and airing.thread.is_alive()
    assert (airing.slot.segment.id, airing.slot.at, airing.version) == ("cds-a", vn(2024, 3, 5, 6, 30), 1)
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert st.runner.current_airing is None
    assert [e["outcome"] for e in st.events()] == ["completed"]


def test_runner_emergency_preempts_normal_then_equal_priority_queue(tmp_path: Path, wav: bytes,
                                                                    stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    body = payload(segments=[segment("norm-1", sha=sha, size=len(wav), duration_s=300),
                             segment("norm-2", sha=sha, size=len(wav), duration_s=300),
                             segment("em", priority="emergency", sha=sha, size=len(wav))],
                   slots=[{"segment": "norm-1", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "em", "at": "2024-03-05T06:32:00+07:00"},
                          {"segment": "norm-2", "at": "2024-03-05T06:32:00+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(body, SCHEDULE_TYP)).accepted
    st.runner.step()
    assert audio.playing.wait(5)
    clock.advance(118)  # 06:31:58 + warm-up: the emergency is due
    st.runner.step()
    assert st.runner.busy
    pump(st, lambda: audio.started == 2 and audio.playing.is_set())  # the emergency airs
    audio.finish.set()
    pump(st, lambda: audio.started == 3 and audio.playing.is_set())  # then norm-2, queued
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert [(e["segment"]["id"], e["outcome"], e["reason"], e["priority"]) for e in st.events()] == [
        ("norm-1", "interrupted", "preempted", "normal"),
        ("em", "completed", None, "emergency"),
        ("norm-2", "completed", None, "normal"),
    ]
    assert [s.state for s in st.pin.states] == [False, True, False, True, False, True, False]


def test_runner_busy_beyond_grace_records_overrun_once(tmp_path: Path, wav: bytes,
                                                       stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    body = payload(segments=[segment("long", sha=sha, size=len(wav), duration_s=1800),
                             segment("short", sha=sha, size=len(wav))],
                   slots=[{"segment": "long", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "short", "at": "2024-03-05T06:40:00+07:00"}])
    st.runner.on_schedule(DISTRICT.sign(body, SCHEDULE_TYP))
    st.runner.step()
    assert audio.playing.wait(5)
    for _ in range(5):  # 06:30 -> 06:55 while "long" plays
        clock.advance(300)
        st.runner.step()
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert st.summary() == [
        ("short", "2024-03-05T06:40:00.000+07:00", "missed", "overrun"),
        ("long", "2024-03-05T06:30:00.000+07:00", "completed", None),
    ]


def test_runner_shutdown_mid_airing_is_shutdown_even_with_an_emergency_later(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    body = payload(segments=[segment("norm", sha=sha, size=len(wav), duration_s=300),
                             segment("em", priority="emergency", sha=sha, size=len(wav))],
                   slots=[{"segment": "norm", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "em", "at": "2024-03-05T06:44:00+07:00"}])
    st.runner.on_schedule(DISTRICT.sign(body, SCHEDULE_TYP))
    st.runner.step()
    assert audio.playing.wait(5)
    st.runner.shutdown()  # SIGTERM at 06:30, the emergency is 14 minutes away
    assert st.summary() == [("norm", "2024-03-05T06:30:00.000+07:00", "interrupted", "shutdown")]


def test_runner_emergency_in_a_new_schedule_mid_airing_is_preempted(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    """The emergency arrives (version 2) while version 1's normal slot is on the air."""
    audio = HeldAudio()
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29, 58))
    st = start(stations, tmp_path, clock, wav, audio=audio)
    sha = sha256_hex(wav)
    norm = segment("norm", sha=sha, size=len(wav), duration_s=300)
    first = payload(segments=[norm], slots=[{"segment": "norm", "at": "2024-03-05T06:30:00+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(first, SCHEDULE_TYP)).accepted
    st.runner.step()
    assert audio.playing.wait(5)
    clock.advance(60)
    second = payload(version=2, segments=[norm, segment("em", priority="emergency", sha=sha, size=len(wav))],
                     slots=[{"segment": "norm", "at": "2024-03-05T06:30:00+07:00"},
                            {"segment": "em", "at": "2024-03-05T06:31:02+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(second, SCHEDULE_TYP)).accepted
    pump(st, lambda: audio.started == 2 and audio.playing.is_set())
    audio.finish.set()
    pump(st, lambda: not st.runner.busy)
    assert st.summary() == [("norm", "2024-03-05T06:30:00.000+07:00", "interrupted", "preempted"),
                            ("em", "2024-03-05T06:31:02.000+07:00", "completed", None)]
