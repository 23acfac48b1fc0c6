"""The office catalogue -> per-station schedules; publish over a real Mosquitto; show."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from mqtt_broker import BrokerEnv
from schedule_testkit import make_wav, media_server, sha256_hex

from district_collector.cli import main as district_main
from district_collector.schedules.catalogue import load_catalogue, schedule_payload
from district_collector.store.sqlite import SqliteStore
from radio_protocol.errors import ConfigError
from radio_protocol.jose import KeyRing, parse_jws, verify
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import SCHEDULE_TYP, STATUS_TYP
from radio_protocol.schedule.expand import expand
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import parse_rfc3339
from radio_protocol.topics import topic

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "catalogue.example.yaml"
MEDIA_NAMES = ["chinh-sach", "ngay-cds-quoc-gia", "mo-hinh", "loi-ich", "thuong-mai-dien-tu"]
FAKE_MEDIA = {"sha256": "0" * 64, "url": "https://m.example/x.wav", "bytes": 1, "duration_s": 1.0}


def example_catalogue(root: Path, seconds: float = 0.3) -> Path:
    """The shipped example catalogue with generated media next to it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "media").mkdir(exist_ok=True)
    for i, name in enumerate(MEDIA_NAMES):
        make_wav(root / "media" / f"cds-2026-10-{name}.wav", seconds=seconds, freq=300.0 + 100 * i)
    shutil.copy(EXAMPLE, root / "catalogue.yaml")
    return root / "catalogue.yaml"


def write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.wav").write_bytes(b"RIFF")
    path = root / "catalogue.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_catalogue_example_is_valid_and_weekly(tmp_path: Path) -> None:
    cat = load_catalogue(example_catalogue(tmp_path))
    assert (cat.year, cat.month, cat.valid_until.day) == (2026, 10, 31)
    assert {s.topic for s in cat.segments} == {"policy", "national-dx-day", "models", "benefits", "ecommerce"}
    assert any("Chuyển đổi số" in s.title for s in cat.segments)
    body = schedule_payload(cat, district="kon-ray", station="dak-koi-01", version=1,
                            issued_at=parse_rfc3339("2026-09-25T08:00:00+07:00"),
                            media={s.id: FAKE_MEDIA for s in cat.segments})
    slots = expand(parse_schedule(body))
    weeks = {s.at.isocalendar()[1] for s in slots}
    assert weeks == {40, 41, 42, 43, 44}  # every ISO week touching October 2026
    on_dx_day = [s for s in slots if s.at.date().isoformat() == "2026-10-10"]
    assert [(s.at.strftime("%H:%M"), s.segment.topic) for s in on_dx_day] == \
        [("06:00", "national-dx-day"), ("17:00", "national-dx-day")]
    assert body["slots"][0] == {"segment": "cds-2026-10-chinh-sach", "rrule": "FREQ=WEEKLY;BYDAY=TU,FR",
                                "dtstart": "2026-10-01T06:30:00.000+07:00"}


def test_catalogue_unquoted_times_and_vietnamese_weekdays(tmp_path: Path) -> None:
    path = write(tmp_path, """
month: 2024-12
segments:
  - {id: a, title: "Chuyển đổi số", program: chuyen-doi-so, media: a.wav}
slots:
  - segment: a
    every: [thứ hai, CN]
    at: 17:00
  - segment: a
    every: day
    at: [06:30]
""")
    cat = load_catalogue(path)
    body = schedule_payload(cat, district="kon-ray", station="s1", version=1,
                            issued_at=parse_rfc3339("2024-11-25T08:00:00+07:00"), media={"a": FAKE_MEDIA})
    assert [s["rrule"] for s in body["slots"]] == ["FREQ=WEEKLY;BYDAY=MO,SU", "FREQ=DAILY"]
    slots = expand(parse_schedule(body))
    assert slots[-1].at.isoformat() == "2024-12-31T06:30:00+07:00"  # year end, last day
    assert len(slots) == 31 + 5 + 5  # daily + Mondays + Sundays of December 2024


BAD: list[tuple[str, str, str]] = [
    ("bad-month", "month: 2024-13\n", ":2: month: expected YYYY-MM"),
    ("bad-time", "slots:\n  - {segment: a, every: [monday], at: '25:00'}\n", ":6: slots[0].at: expected a time"),
    ("bad-weekday", "slots:\n  - {segment: a, every: [mondey], at: '06:30'}\n", "slots[0].every: 'mondey'"),
    ("unknown-segment", "slots:\n  - {segment: b, every: [monday], at: '06:30'}\n",
     ":6: slots[0].segment: no segment with id 'b'"),
    ("two-kinds", "slots:\n  - {segment: a, every: [monday], dates: [2024-12-02], at: '06:30'}\n",
     "needs exactly one of"),
    ("date-outside-month", "slots:\n  - {segment: a, dates: [2025-01-02], at: '06:30'}\n",
     "not in the catalogue's month"),
    ("bad-rrule", "slots:\n  - {segment: a, rrule: 'FREQ=SOMETIMES', at: '06:30'}\n",
     ":6: slots[0].rrule: not a valid RFC 5545 rule"),
    ("too-often", "slots:\n  - {segment: a, rrule: 'FREQ=MINUTELY;INTERVAL=1', at: '06:30'}\n",
     "slots[0]: fires every 1 minute"),
    ("rule-never-in-month", "slots:\n  - {segment: a, rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29', at: '06:30'}\n",
     ":6: slots[0].rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29' has no date in 2024-12"),
    ("until-as-date", "slots:\n  - {segment: a, rrule: 'FREQ=WEEKLY;BYDAY=MO;UNTIL=20241215', at: '06:30'}\n",
     ":6: slots[0].rrule: not a valid RFC 5545 rule"),
    ("duplicate-key", "slots:\n  - segment: a\n    every: [monday]\n    at: '06:30'\n    at: '17:00'\n",
     ":9: invalid YAML: duplicate key 'at' (first on line 8)"),
    ("unknown-key", "slots:\n  - {segment: a, evry: [monday], at: '06:30'}\n", "slots[0].evry: unknown key"),
    ("ftp-media", "segments:\n  - {id: c, title: t, program: p, media: 'ftp://x/y.mp3'}\n", "URL scheme 'ftp'"),
    ("missing-file", "segments:\n  - {id: c, title: t, program: p, media: nope.wav}\n", "no such file"),
]


@pytest.mark.parametrize("name,extra,expected", BAD, ids=[b[0] for b in BAD])
def test_catalogue_errors_name_line_and_key(tmp_path: Path, name: str, extra: str, expected: str) -> None:
    base = {"month": "month: 2024-12\n",
            "segments": "segments:\n  - {id: a, title: t, program: chuyen-doi-so, media: a.wav}\n",
            "slots": "slots:\n  - {segment: a, every: [monday], at: '06:30'}\n"}
    key = extra.split(":", 1)[0]
    base[key] = extra
    path = write(tmp_path, "\n" + base["month"] + base["segments"] + base["slots"])
    with pytest.raises(ConfigError) as info:
        load_catalogue(path)
    assert any(expected in p and str(path) in p for p in info.value.problems), info.value.problems


def with_media(env: BrokerEnv, media_dir: Path, base_url: str) -> None:
    data = yaml.safe_load(env.district_config.read_text(encoding="utf-8"))
    data["media"] = {"base_url": base_url, "dir": str(media_dir)}
    env.district_config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def retained(env: BrokerEnv, station: str, timeout_s: float = 5.0) -> bytes:
    got: list[bytes] = []
    done = threading.Event()
    client = env.client(station)

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        got.append(bytes(msg.payload))
        done.set()

    client.on_message = on_message
    client.subscribe(topic("kon-ray", station, "schedule"), qos=1)
    assert done.wait(timeout_s), "no retained schedule"
    return got[-1]


def test_publish_signs_versions_stores_and_retains(mqtt_env: BrokerEnv, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cat_path = example_catalogue(tmp_path / "office")
    media_dir = tmp_path / "district-media"
    with media_server() as server:
        server.directory = media_dir
        with_media(mqtt_env, media_dir, server.url("/media"))
        argv = ["-c", str(mqtt_env.district_config), "schedule", "publish", str(cat_path)]
        assert district_main(argv) == 0
        assert district_main(argv + ["--stations", "dak-koi-01"]) == 0
        out = capsys.readouterr().out
        assert "dak-koi-01: version 1, 25 slots (2026-10-01 17:00 .. 2026-10-31 07:00)" in out
        assert "dak-ruong-01: version 1" in out and "dak-koi-01: version 2" in out
        assert "published" in out
        raw = retained(mqtt_env, "dak-koi-01")
        verified = verify(raw, KeyRing.from_jwks([mqtt_env.district_jwk]), SCHEDULE_TYP,
                          max_bytes=256 * 1024)
        body = verified.payload
        assert (body["station"], body["version"]) == ("dak-koi-01", 2)
        seg = body["segments"][0]
        wav = (tmp_path / "office" / "media" / "cds-2026-10-chinh-sach.wav").read_bytes()
        assert seg["media"]["sha256"] == sha256_hex(wav) and seg["media"]["bytes"] == len(wav)
        assert seg["media"]["duration_s"] == pytest.approx(0.3)
        assert (media_dir / f"{sha256_hex(wav)}.wav").read_bytes() == wav  # served to stations
        import urllib.request
        with urllib.request.urlopen(seg["media"]["url"]) as response:
            assert response.read() == wav
    with SqliteStore(mqtt_env.config.database) as store:
        latest = store.latest_schedule("dak-koi-01")
        assert latest is not None and latest[0] == 2 and latest[1] == raw


def test_publish_unknown_station_and_bad_catalogue_exit_1(mqtt_env: BrokerEnv, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    cat_path = example_catalogue(tmp_path / "office")
    assert district_main(["-c", str(mqtt_env.district_config), "schedule", "publish", str(cat_path),
                          "--stations", "nowhere-01"]) == 1
    assert "nowhere-01" in capsys.readouterr().err
    text = cat_path.read_text(encoding="utf-8").replace('\n    at: "06:30"', '\n    at: "6h30"', 1)
    cat_path.write_text(text, encoding="utf-8")
    assert district_main(["-c", str(mqtt_env.district_config), "schedule", "publish", str(cat_path)]) == 1
    err = capsys.readouterr().err
    assert "slots[0].at" in err and "catalogue.yaml:" in err


def test_schedule_show_reports_acked_version_and_errors(mqtt_env: BrokerEnv, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    kit = mqtt_env.stations["dak-koi-01"]
    status = build_status(Status(
        "dak-koi-01", "online", parse_rfc3339("2026-10-01T06:00:00.000+07:00"), schedule_version=1,
        schedule_error="old-version: 1 is not above 1", next_slot=parse_rfc3339("2026-10-01T17:00:00.000+07:00"),
        media_missing=("cds-2026-10-mo-hinh",), outbox_pending=0, last_seq=0, clock_synced=True, amp_on=False,
        sw="0.1.0"))
    jws = kit.signer.sign(status, STATUS_TYP)
    with SqliteStore(mqtt_env.config.database) as store:
        store.add_schedule("dak-koi-01", 2, b"{}", "x", parse_rfc3339("2026-09-30T08:00:00+07:00"))
        from district_collector.store.records import StatusRecord
        store.add_batch([], statuses=[StatusRecord("dak-koi-01", "online", str(status["at"]), jws,
                                                   parse_rfc3339("2026-10-01T06:00:01+07:00"))])
    assert district_main(["-c", str(mqtt_env.district_config), "schedule", "show"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("dak-koi-01"))
    assert line.split()[:5] == ["dak-koi-01", "2", "1", "online", "2026-10-01T17:00:00.000+07:00"]
    assert "not yet applied" in line
    assert "old-version" in line and "media missing: cds-2026-10-mo-hinh" in line
    assert json.loads(parse_jws(jws)[2])["schedule_version"] == 1


def test_catalogue_url_media_is_downloaded_once(tmp_path: Path) -> None:
    from mqtt_broker import make_district

    from district_collector.schedules.publish import resolve_media

    kit = make_district(tmp_path / "district")
    wav = make_wav(tmp_path / "remote.wav", seconds=0.4)
    with media_server() as server:
        server.files["/tinh/cds.wav"] = wav
        path = write(tmp_path / "office", f"""
month: 2024-12
segments:
  - {{id: a, title: "Chuyển đổi số", program: chuyen-doi-so, media: "{server.url('/tinh/cds.wav')}"}}
  - {{id: b, title: "Chuyển đổi số (phát lại)", program: chuyen-doi-so, media: "{server.url('/tinh/cds.wav')}"}}
slots:
  - {{segment: a, every: [monday], at: "06:30"}}
  - {{segment: b, every: [friday], at: "06:30"}}
""")
        media = resolve_media(load_catalogue(path), kit.config)
        assert [r[0] for r in server.requests] == ["/tinh/cds.wav"]  # fetched once for both
    assert media["a"] == media["b"] == {"sha256": sha256_hex(wav), "url": server.url("/tinh/cds.wav"),
                                        "bytes": len(wav), "duration_s": 0.4}
