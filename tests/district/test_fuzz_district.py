"""Fuzz targets of what the district reads from outside (tests/fuzzkit.py).

MQTT messages through the real :class:`Ingestor` into a real SQLite store (nothing may
escape: every message is stored or quarantined), import lines (``import_files``: only
ImportFileError), catalogue YAML (``load_catalogue``: only ConfigError) and the files of
an evidence bundle (``verify_bundle``: never raises, lists problems).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fuzzkit import FuzzRecorder, json_bytes, mutated, scaled  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from mqtt_broker import DistrictKit, make_airing_payload, make_district  # noqa: E402
from test_evidence_support import PERIOD, build_district  # noqa: E402

from district_collector.cli import main as district_main  # noqa: E402
from district_collector.evidence.verify import verify_bundle  # noqa: E402
from district_collector.intake.importer import ImportFileError, import_files  # noqa: E402
from district_collector.intake.ingest import Ingestor  # noqa: E402
from district_collector.schedules.catalogue import load_catalogue  # noqa: E402
from district_collector.store.sqlite import SqliteStore  # noqa: E402
from radio_protocol.errors import ConfigError  # noqa: E402
from radio_protocol.names import EVENT_TYP, STATUS_TYP  # noqa: E402

KOI = "dak-koi-01"
AT = datetime(2024, 3, 5, tzinfo=UTC)
TOPICS = st.sampled_from([f"cr/v1/kon-ray/station/{KOI}/event", f"cr/v1/kon-ray/station/{KOI}/status",
                          "cr/v1/kon-ray/station/nobody/event", "cr/v1/other/station/x/event", "#", ""])


@pytest.fixture
def fuzz(request: pytest.FixtureRequest) -> Iterator[FuzzRecorder]:
    recorder = FuzzRecorder(request.node.name.removeprefix("test_fuzz_"))
    yield recorder
    recorder.save()


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> DistrictKit:
    return make_district(tmp_path_factory.mktemp("fuzz-district"))


@st.composite
def messages(draw: st.DrawFn, kit: DistrictKit) -> bytes:
    signer = kit.stations[KOI].signer
    if draw(st.booleans()):
        p = draw(mutated(make_airing_payload(KOI, draw(st.integers(1, 5)), None, commune=kit.stations[KOI].commune)))
        return signer.sign(json_bytes(p), EVENT_TYP)
    if draw(st.booleans()):
        status = {"v": 1, "type": "status", "station": KOI, "state": "online", "at": "2024-03-05T06:40:00+07:00"}
        return signer.sign(json_bytes(draw(mutated(status))), STATUS_TYP)
    return draw(st.binary(max_size=200))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "store.sqlite3") as opened:  # one per target: fsyncs are slow
        yield opened


@scaled(0.2)
@given(st.data())
def test_fuzz_ingest_messages(fuzz: FuzzRecorder, kit: DistrictKit, store: SqliteStore, data: st.DataObject) -> None:
    batch = [(data.draw(TOPICS), data.draw(messages(kit)), "mqtt") for _ in range(data.draw(st.integers(1, 4)))]
    before = store.count_events()
    with fuzz.case():
        result = Ingestor(kit.config, store).ingest(batch, AT)
    counted = sum(result.counts[k] for k in ("accepted", "duplicate", "conflict", "rejected", "status"))
    assert counted == len(batch)  # every message stored or quarantined, none lost
    assert store.count_events() == before + result.counts["accepted"] + result.counts["conflict"]


@scaled(0.2)
@given(st.data())
def test_fuzz_import_lines(fuzz: FuzzRecorder, kit: DistrictKit, store: SqliteStore, tmp_path: Path,
                           data: st.DataObject) -> None:
    lines = [data.draw(messages(kit)).replace(b"\n", b" ") for _ in range(data.draw(st.integers(1, 3)))]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + data.draw(st.binary(max_size=30)))
    before = store.count_events()
    with fuzz.case(ImportFileError):
        counts = import_files(kit.config, store, [path])
        assert before + counts["accepted"] + counts["conflict"] == store.count_events()


CATALOGUE_PIECES = st.sampled_from([
    "month: 2024-12\n", "month: 2024-13\n", "month: [1]\n", "timezone: Asia/Ho_Chi_Minh\n", "timezone: " + "A" * 300 + "\n",
    "segments:\n  - {id: a, title: T, program: chuyen-doi-so, media: a.wav}\n", "segments: 3\n",
    "  - {id: [a], title: T, program: p, media: a.wav}\n", "slots:\n", "  - {segment: a, every: day, at: '06:30'}\n",
    "  - {segment: a, rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', at: '06:30'}\n",
    "  - {segment: a, dates: [2024-12-02], at: [06:30, 25:00]}\n", "  - {segment: [a], every: [mo], at: 6}\n",
    "  - !!binary aGVsbG8=\n", "&a [*a]\n", "? [a]\n: b\n", "- \x00\n", "\t", "{", ": :\n", "at: 1e400\n"])


@scaled(0.3)
@given(st.lists(CATALOGUE_PIECES, max_size=8) | st.text(max_size=200).map(lambda t: [t]))
def test_fuzz_catalogue_yaml(fuzz: FuzzRecorder, tmp_path_factory: pytest.TempPathFactory, pieces: list[str]) -> None:
    path = tmp_path_factory.mktemp("cat") / "catalogue.yaml"
    path.write_text("".join(pieces), encoding="utf-8", errors="surrogatepass")
    with fuzz.case(ConfigError, reason=lambda exc: ""):
        load_catalogue(path)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    district = build_district(tmp_path_factory.mktemp("district"))
    out = tmp_path_factory.mktemp("bundles") / "bundle"
    assert district_main(["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                          "--out", str(out), "--lang", "en"]) == 0
    return out


def _mutate_file(data: st.DataObject, original: bytes) -> bytes:
    kind = data.draw(st.integers(0, 3))
    if kind == 0:
        return data.draw(st.binary(max_size=300))
    if kind == 1:
        return b"[" * data.draw(st.integers(30, 5000))
    lines = original.splitlines() or [b""]
    i = data.draw(st.integers(0, len(lines) - 1))
    try:
        value: Any = json.loads(lines[i])
    except ValueError:
        value = {}
    if isinstance(value, dict) and value:
        lines[i] = json.dumps(data.draw(mutated(value))).encode()
    else:
        lines[i] = data.draw(st.binary(max_size=80))
    return b"\n".join(lines)


@scaled(0.05)
@given(st.data())
def test_fuzz_verify_bundle_files(fuzz: FuzzRecorder, bundle: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["events.jsonl", "schedules.jsonl", "keys.json", "manifest.json",
                                      "manifest.jws", "report.json"]))
    original = (bundle / name).read_bytes()
    (bundle / name).write_bytes(_mutate_file(data, original))
    try:
        with fuzz.case():
            result = verify_bundle(bundle)
        assert result.problems or (bundle / name).read_bytes() == original
    finally:
        (bundle / name).write_bytes(original)
