"""The slot runner on a simulated clock: each slot airs on time, once, with its media,
while hostile schedule updates leave the one in force airing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from runner_testkit import (
    DISTRICT,
    Station,
    schedule_jws,
    start,
    vn,
)
from schedule_testkit import make_wav, new_signer, payload, segment, sha256_hex
from test_schedule_store import HOSTILE

from firmware_daemon.service.status import StatusBuilder
from hal.audio import PlaybackResult
from hal.fake import FakeAudioOutput
from radio_protocol.clock import SimulatedClock
from radio_protocol.names import SCHEDULE_TYP


def test_runner_airs_on_time_with_amp_warmup(tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    st.run_until(vn(2024, 3, 5, 18, 0))
    events = st.events()
    assert [(e["slot"], e["outcome"]) for e in events] == [
        ("2024-03-05T06:30:00.000+07:00", "completed"), ("2024-03-05T17:30:00.000+07:00", "completed")]
    for e in events:
        assert e["amp"]["on_at"] == e["slot"].replace("06:30:00", "06:29:58").replace("17:30:00", "17:29:58")
        assert e["started_at"] == e["slot"]  # first sample at the slot time
        assert e["schedule_version"] == 1
    assert [s.state for s in st.pin.states] == [False, True, False, True, False]
    assert st.state.schedule.next_slot == vn(2024, 3, 6, 6, 30)


class SlowOpenAudio(FakeAudioOutput):
    """Opening the media and the stream takes ``open_s`` of the (simulated) clock."""

    def __init__(self, clock: SimulatedClock, open_s: float) -> None:
        super().__init__()
        self.clock = clock
        self.open_s = open_s
        self.first_block_at: list[datetime] = []

    def prepare(self, path: Any, *, margin_s: float = 5.0) -> Any:
        self.clock.sleep(self.open_s)
        return super().prepare(path, margin_s=margin_s)

    def _run(self, path: Any, stop: Any, margin_s: float, on_start: Any, *rest: Any) -> PlaybackResult:
        def first() -> None:
            self.first_block_at.append(self.clock.now())
            if on_start is not None:
                on_start()
        return super()._run(path, stop, margin_s, first, *rest)


def test_runner_first_sample_at_the_slot_despite_the_open_time(tmp_path: Path, wav: bytes,
                                                               stations: list[Station]) -> None:
    """Opening media and stream (before the amp goes on) takes 0.25 s: the airing starts
    early enough that the amp still goes on warmup_s before the slot and the first
    sample leaves at the slot time, not 0.25 s late."""
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    audio = SlowOpenAudio(clock, 0.25)
    st = start(stations, tmp_path, clock, wav, audio=audio)
    assert st.runner.on_schedule(schedule_jws(wav)).accepted
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert audio.first_block_at == [vn(2024, 3, 5, 6, 30)]
    (event,) = st.events()
    assert (event["amp"]["on_at"], event["started_at"], event["outcome"]) == (
        "2024-03-05T06:29:58.000+07:00", "2024-03-05T06:30:00.000+07:00", "completed")


def test_runner_simulated_playback_takes_simulated_time_and_overlaps_the_next_slot(
        tmp_path: Path, stations: list[Station]) -> None:
    """A 5 s segment at 06:30:00 and another at 06:30:03 (equal priority): on a simulated
    clock the first really plays 5 s, so the second waits for it (amp off after the tail,
    on again, warm-up) instead of both fitting in no time."""
    long_wav = make_wav(tmp_path / "long.wav", seconds=5.0)
    clock = SimulatedClock(vn(2024, 3, 5, 6, 29))
    st = start(stations, tmp_path, clock, long_wav)
    sha = sha256_hex(long_wav)
    body = payload(segments=[segment("first", sha=sha, size=len(long_wav), duration_s=5.0),
                             segment("second", sha=sha, size=len(long_wav), duration_s=5.0)],
                   slots=[{"segment": "first", "at": "2024-03-05T06:30:00+07:00"},
                          {"segment": "second", "at": "2024-03-05T06:30:03+07:00"}])
    assert st.runner.on_schedule(DISTRICT.sign(body, SCHEDULE_TYP)).accepted
    st.run_until(vn(2024, 3, 5, 6, 31))
    times = [(e["segment"]["id"], e["amp"]["on_at"][11:19], e["started_at"][11:19], e["ended_at"][11:19],
              e["amp"]["off_at"][11:19], e["played_s"], e["outcome"]) for e in st.events()]
    assert times == [("first", "06:29:58", "06:30:00", "06:30:05", "06:30:06", 5.0, "completed"),
                     ("second", "06:30:06", "06:30:08", "06:30:13", "06:30:14", 5.0, "completed")]


def test_runner_slot_counts_do_not_depend_on_version_change(tmp_path: Path, wav: bytes,
                                                            stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    st.runner.on_schedule(schedule_jws(wav, version=1))
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert st.runner.on_schedule(schedule_jws(wav, version=2)).accepted  # repeats 06:30
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert [e["schedule_version"] for e in st.events()] == [1]


def test_runner_status_reports_version_and_next_slot(tmp_path: Path, wav: bytes,
                                                     stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.state.schedule.schedule_version is None and st.state.schedule.next_slot is None
    st.runner.on_schedule(schedule_jws(wav, version=4))
    state = st.state.schedule
    assert (state.schedule_version, state.schedule_error, state.next_slot, state.media_missing) == \
        (4, None, vn(2024, 3, 5, 6, 30), ())
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert st.state.schedule.next_slot == vn(2024, 3, 5, 17, 30)  # the aired slot is behind us
    (st.cache.directory / sha256_hex(wav)).unlink()
    st.runner.fetch_now()  # the district is unreachable (port 1): still missing
    assert st.state.schedule.media_missing == ("cds-a",)
    assert st.runner.on_schedule(schedule_jws(wav, version=5)).accepted
    assert st.state.schedule.schedule_version == 5


def test_runner_missing_and_corrupt_media_fail_with_reason(tmp_path: Path, wav: bytes,
                                                           stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = Station(tmp_path, clock)
    stations.append(st)
    st.runner.on_schedule(schedule_jws(wav))
    assert st.state.schedule.media_missing == ("cds-a",)  # listed before the slot
    st.run_until(vn(2024, 3, 5, 7, 0))
    (st.cache.directory / sha256_hex(wav)).write_bytes(wav[:-4] + b"oops")
    st.run_until(vn(2024, 3, 5, 18, 0))
    assert st.summary() == [
        ("cds-a", "2024-03-05T06:30:00.000+07:00", "failed", "media-missing"),
        ("cds-a", "2024-03-05T17:30:00.000+07:00", "failed", "media-corrupt"),
    ]
    assert [s.state for s in st.pin.states] == [False]  # the amp never went on


def test_runner_fetches_media_when_schedule_arrives(tmp_path: Path, wav: bytes,
                                                    stations: list[Station]) -> None:
    from schedule_testkit import media_server

    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = Station(tmp_path, clock)
    stations.append(st)
    (st.cache.directory / ("f" * 64)).write_bytes(b"old media of an old schedule")
    with media_server() as server:
        server.files["/media/a.wav"] = wav
        jws = DISTRICT.sign(payload(segments=[segment("cds-a", sha=sha256_hex(wav), size=len(wav),
                                                      url=server.url("/media/a.wav"))]),
                            SCHEDULE_TYP)
        st.runner.start_fetcher()
        st.runner.on_schedule(jws)
        for _ in range(200):
            if st.state.schedule.media_missing == ():
                break
            threading.Event().wait(0.02)
    assert st.state.schedule.media_missing == ()
    assert sorted(p.name for p in st.cache.directory.iterdir()) == [sha256_hex(wav)]  # old pruned
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert [e["outcome"] for e in st.events()] == ["completed"]


def test_runner_hostile_update_keeps_previous_schedule_airing(tmp_path: Path, wav: bytes,
                                                              stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(schedule_jws(wav, version=3)).accepted
    intruder = new_signer()
    forged = intruder.sign(payload(version=9, slots=[]), SCHEDULE_TYP)
    result = st.runner.on_schedule(forged)
    assert result.status == "rejected"
    assert st.state.schedule.schedule_version == 3
    assert "unknown-kid" in (st.state.schedule.schedule_error or "")
    st.run_until(vn(2024, 3, 5, 7, 0))
    assert st.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", None)]


@pytest.mark.parametrize("name,make,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_runner_each_hostile_schedule_is_in_status_and_previous_keeps_airing(
        tmp_path: Path, wav: bytes, stations: list[Station], name: str, make: Callable[[], bytes],
        expected: str) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(schedule_jws(wav, version=2)).accepted
    result = st.runner.on_schedule(make())
    assert result.status == "rejected"
    status = StatusBuilder(station="dak-koi-01", signer=new_signer(), clock=clock, state=st.state,
                           clock_synced=lambda: True).payload("online", outbox_pending=0, last_seq=0)
    assert expected in (status["schedule_error"] or ""), status["schedule_error"]
    assert status["schedule_version"] == 2 and status["next_slot"] == "2024-03-05T06:30:00.000+07:00"
    assert status["media_missing"] == []
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert [(e["slot"], e["outcome"], e["schedule_version"]) for e in st.events()] == [
        ("2024-03-05T06:30:00.000+07:00", "completed", 2)]
    assert [s.state for s in st.pin.states] == [False, True, False]
    assert expected in (st.state.schedule.schedule_error or "")  # still reported after airing
