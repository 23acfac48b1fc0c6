"""A well-signed schedule whose media cannot be fetched does not silence the station: the
schedule it replaced keeps airing (and keeps its media) until the new media is complete."""

from __future__ import annotations

from pathlib import Path

from runner_testkit import DISTRICT, Station, start, vn
from schedule_testkit import make_wav, payload, segment, sha256_hex

from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import KeyRing
from radio_protocol.names import SCHEDULE_TYP

DAILY = {"rrule": "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30", "dtstart": "2024-03-01T00:00:00+07:00"}


def signed(seg_id: str, data: bytes, version: int, url: str) -> bytes:
    body = payload(version=version, segments=[segment(seg_id, sha=sha256_hex(data), size=len(data), url=url)],
                   slots=[{"segment": seg_id, **DAILY}])
    return DISTRICT.sign(body, SCHEDULE_TYP)


def test_media_fallback_previous_schedule_airs_until_new_media_is_complete(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    old_media = st.cache.directory / sha256_hex(wav)
    assert st.runner.on_schedule(signed("cds-a", wav, 1, "http://127.0.0.1:1/a.wav")).accepted
    st.run_until(vn(2024, 3, 5, 6, 35))

    new = make_wav(tmp_path / "b.wav", seconds=1.0, freq=880.0)  # nowhere to be fetched from
    assert st.runner.on_schedule(signed("cds-b", new, 2, "http://127.0.0.1:1/b.wav")).accepted
    assert st.runner.fetch_now() == ["cds-b"]
    assert old_media.read_bytes() == wav  # not pruned: the previous schedule still airs
    state = st.state.schedule
    assert state.schedule_version == 2 and state.media_missing == ("cds-b",)
    assert state.schedule_error is not None and state.schedule_error.startswith(
        "media-missing: schedule version 2 waits for its media; version 1 airs meanwhile")
    assert state.next_slot == vn(2024, 3, 5, 17, 30)

    st.run_until(vn(2024, 3, 5, 17, 35))
    assert [(e["segment"]["id"], e["slot"], e["outcome"], e["schedule_version"]) for e in st.events()] == [
        ("cds-a", "2024-03-05T06:30:00.000+07:00", "completed", 1),
        ("cds-a", "2024-03-05T17:30:00.000+07:00", "completed", 1)]

    reopened = ScheduleStore(st.config.data_dir / "schedule", district="kon-ray", station="dak-koi-01",
                             keys=KeyRing.from_jwks([DISTRICT.public_jwk]))
    try:  # a reboot meanwhile keeps both
        assert reopened.version == 2 and reopened.previous is not None and reopened.previous.version == 1
    finally:
        reopened.close()

    st.put_media(new)  # the new media arrives: the new schedule comes in force, the old media goes
    assert st.runner.fetch_now() == []
    assert st.store.previous is None and not old_media.exists()
    state = st.state.schedule
    assert (state.schedule_version, state.schedule_error, state.media_missing) == (2, None, ())
    st.run_until(vn(2024, 3, 6, 6, 35))
    assert [(e["segment"]["id"], e["slot"], e["outcome"], e["schedule_version"]) for e in st.events()][2:] == [
        ("cds-b", "2024-03-06T06:30:00.000+07:00", "completed", 2)]


def test_media_fallback_a_damaged_new_file_does_not_count_as_complete(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, wav)
    assert st.runner.on_schedule(signed("cds-a", wav, 1, "http://127.0.0.1:1/a.wav")).accepted
    new = make_wav(tmp_path / "b.wav", seconds=1.0, freq=880.0)
    (st.cache.directory / sha256_hex(new)).write_bytes(new[:-1] + b"\x01")  # right size, wrong bytes
    assert st.runner.on_schedule(signed("cds-b", new, 2, "http://127.0.0.1:1/b.wav")).accepted
    assert st.store.previous is not None and st.store.previous.version == 1
    assert st.state.schedule.media_missing == ("cds-b",)
    st.run_until(vn(2024, 3, 5, 6, 35))
    assert [(e["segment"]["id"], e["outcome"], e["schedule_version"]) for e in st.events()] == [
        ("cds-a", "completed", 1)]


def test_media_fallback_first_schedule_is_in_force_at_once(
        tmp_path: Path, wav: bytes, stations: list[Station]) -> None:
    clock = SimulatedClock(vn(2024, 3, 5, 6, 0))
    st = start(stations, tmp_path, clock, b"unused")
    assert st.runner.on_schedule(signed("cds-a", wav, 1, "http://127.0.0.1:1/a.wav")).accepted
    assert st.store.previous is None and st.state.schedule.media_missing == ("cds-a",)
    st.run_until(vn(2024, 3, 5, 6, 35))  # nothing to fall back to: the slot fails, reported
    assert st.summary() == [("cds-a", "2024-03-05T06:30:00.000+07:00", "failed", "media-missing")]
