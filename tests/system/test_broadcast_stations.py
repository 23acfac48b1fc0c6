"""``radio-district broadcast`` end to end with real parts: a real Mosquitto, the real
collector (``radio-district run``), real station daemons (``radio-station run``) airing
through PortAudio into a paced PulseAudio null sink (docs/TESTING.md), media over HTTP.

- An emergency bulletin airs at the stations within 30 s of the command, pre-empting a
  normal airing in progress (``interrupted``/``preempted``, then the bulletin
  ``completed`` with priority ``emergency``); a normal slot due during the bulletin waits
  for it; the command prints each station's airing, read from the collector's store.
- Validity: a station that comes back while the bulletin is still valid airs it late; one
  that comes back after ``--valid-for`` records it ``missed`` (reason ``expired``).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from broadcast_kit import (
    TZ,
    broadcast,
    events,
    growing,
    online,
    processes,
    publish_normal,
    speech,
    start_collector,
    start_station,
    station_config,
    tone,
)
from mqtt_broker import BrokerEnv
from schedule_testkit import media_server
from test_hal_audio_paced import pulse  # noqa: F401  (the private PulseAudio fixture)
from test_schedule_catalogue import with_media
from waiting import wait_until

from radio_protocol.timefmt import parse_rfc3339

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
KOI, RUONG = "dak-koi-01", "dak-ruong-01"
BULLETIN = ("Thông báo khẩn cấp của Ủy ban nhân dân huyện: bão số ba sắp đổ bộ vào địa bàn. "
            "Đề nghị bà con chằng chống nhà cửa, không ra suối, di chuyển đến nơi an toàn.")


def by_segment(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["segment"]["id"]: e for e in found if e.get("type") == "airing"}


@pytest.mark.timeout(300)
def test_broadcast_preempts_normal_airing_and_is_not_preempted(
        mqtt_env: BrokerEnv, tmp_path: Path, pulse: dict[str, str]) -> None:  # noqa: F811
    media_dir = tmp_path / "district-media"
    emergency = speech(tmp_path / "khan-cap.wav", BULLETIN)
    with media_server() as server, processes() as procs:
        server.directory = media_dir
        with_media(mqtt_env, media_dir, server.url("/media"))
        start_collector(procs, mqtt_env, pulse, tmp_path / "collector.log")
        captures = {s: tmp_path / f"{s}.raw" for s in (KOI, RUONG)}
        for s in (KOI, RUONG):
            start_station(procs, station_config(mqtt_env, tmp_path / s, s), pulse, captures[s],
                          tmp_path / f"{s}.log")
        wait_until(lambda: online(mqtt_env, KOI) and online(mqtt_env, RUONG), 60, "both stations online")
        t0 = datetime.now(TZ)
        long_at, short_at = t0 + timedelta(seconds=5), t0 + timedelta(seconds=14)
        publish_normal(mqtt_env, KOI, [("normal-long", tone(tmp_path / "long.wav", 60, 330)),
                                       ("normal-short", tone(tmp_path / "short.wav", 2, 550))],
                       [("normal-long", long_at), ("normal-short", short_at)])
        # the normal airing is really going out (a second of 16 kHz mono into the sink)
        wait_until(lambda: growing(captures[KOI], 32000), 60, "the normal airing to be on air")
        commanded = datetime.now(TZ)
        done = broadcast(mqtt_env, pulse, str(emergency), "--title", "Thông báo khẩn cấp: bão số 3",
                         "--priority", "emergency", "--stations", f"{KOI},{RUONG}", "--wait", "120")
        assert done.returncode == 0, done.stdout + done.stderr
        lines = {ln.split(":", 1)[0]: ln for ln in done.stdout.splitlines()}
        for s in (KOI, RUONG):
            assert "aired " in lines[s] and "completed, priority emergency" in lines[s], done.stdout
        wait_until(lambda: "normal-short" in by_segment(events(mqtt_env, KOI)), 120,
                   "the normal slot due during the bulletin to air after it")
        koi = by_segment(events(mqtt_env, KOI))
        ruong = by_segment(events(mqtt_env, RUONG))

    (bulletin_id,) = [k for k in ruong if k.startswith("bulletin-")]
    for got in (koi[bulletin_id], ruong[bulletin_id]):
        assert (got["outcome"], got["reason"], got["priority"]) == ("completed", None, "emergency")
        started = parse_rfc3339(got["started_at"])
        assert started - commanded < timedelta(seconds=30)  # on air within 30 s of the command
        assert got["schedule_version"] >= 1 and got["slot"] is not None
        assert got["played_s"] == pytest.approx(got["media_s"], abs=0.2)
    long, short = koi["normal-long"], koi["normal-short"]
    assert (long["outcome"], long["reason"]) == ("interrupted", "preempted")
    assert parse_rfc3339(long["ended_at"]) <= parse_rfc3339(koi[bulletin_id]["started_at"])
    assert 0 < long["played_s"] < 60
    # the short normal slot fell due before the bulletin ended, and waited for it
    assert short_at < parse_rfc3339(koi[bulletin_id]["ended_at"])
    assert (short["outcome"], short["priority"]) == ("completed", "normal")
    assert parse_rfc3339(short["started_at"]) >= parse_rfc3339(koi[bulletin_id]["ended_at"])


@pytest.mark.timeout(300)
def test_broadcast_airs_on_return_only_while_valid(
        mqtt_env: BrokerEnv, tmp_path: Path, pulse: dict[str, str]) -> None:  # noqa: F811
    media_dir = tmp_path / "district-media"
    bulletin = speech(tmp_path / "uu-tien.wav", "Thông báo của xã: ngày mai tiêm phòng cho trẻ em.")
    with media_server() as server, processes() as procs:
        server.directory = media_dir
        with_media(mqtt_env, media_dir, server.url("/media"))
        start_collector(procs, mqtt_env, pulse, tmp_path / "collector.log")
        # both stations are away when the district broadcasts
        done = broadcast(mqtt_env, pulse, str(bulletin), "--title", "Thông báo tiêm phòng",
                         "--priority", "priority", "--all", "--valid-for", "40s", "--wait", "0")
        commanded = datetime.now(TZ)
        assert done.returncode == 1, done.stdout + done.stderr
        for s in (KOI, RUONG):
            assert f"{s}: not aired (not waited for): never seen" in done.stdout, done.stdout
        # dak-ruong-01 returns within the validity: airs it late
        start_station(procs, station_config(mqtt_env, tmp_path / RUONG, RUONG), pulse,
                      tmp_path / "ruong.raw", tmp_path / "ruong.log")
        wait_until(lambda: any(k.startswith("bulletin-") for k in by_segment(events(mqtt_env, RUONG))), 90,
                   "the returning station's bulletin event")
        # dak-koi-01 returns after it: records it missed
        wait_until(lambda: datetime.now(TZ) > commanded + timedelta(seconds=42), 60, "the validity to end")
        start_station(procs, station_config(mqtt_env, tmp_path / KOI, KOI), pulse,
                      tmp_path / "koi.raw", tmp_path / "koi.log")
        wait_until(lambda: any(k.startswith("bulletin-") for k in by_segment(events(mqtt_env, KOI))), 90,
                   "the late station's missed event")
        ruong = by_segment(events(mqtt_env, RUONG))
        koi = by_segment(events(mqtt_env, KOI))
    (aired,) = [e for k, e in ruong.items() if k.startswith("bulletin-")]
    assert (aired["outcome"], aired["priority"]) == ("completed", "priority")
    assert parse_rfc3339(aired["started_at"]) > parse_rfc3339(aired["slot"])  # late, but valid
    assert parse_rfc3339(aired["started_at"]) < parse_rfc3339(aired["slot"]) + timedelta(seconds=40)
    (missed,) = [e for k, e in koi.items() if k.startswith("bulletin-")]
    assert (missed["outcome"], missed["reason"], missed["priority"]) == ("missed", "expired", "priority")
    assert missed["played_s"] == 0 and missed["slot"] == aired["slot"]
