"""A small real district for the report/evidence tests: config, keys, SQLite store, events.

Holds no tests. :func:`build_district` writes a district config with three stations,
the district signing key, imports signed events through the collector's real importer
(so they pass the real ingest checks into the real store) and publishes a signed
schedule into the store's ``schedules`` table. :func:`pdf_text` reads a written PDF
as an official would (the documents and evidence tests assert on it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader
from test_scoring_support import StationSigner, schedule_payload

from district_collector.config import load_district_config
from district_collector.intake.importer import import_files
from district_collector.store.sqlite import SqliteStore
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import Signer, canonical_json, load_or_create_private_key, sha256_hex
from radio_protocol.names import SCHEDULE_TYP

PERIOD = ("2024-01-01", "2024-12-10")


def pdf_text(path: Path) -> str:
    """Text of the PDF as pdftotext extracts it (pypdf when poppler is absent), spaces collapsed."""
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                              capture_output=True, text=True).stdout
    else:
        text = "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    return " ".join(text.split())  # a phrase wrapped over two lines still reads as one


@dataclass
class District:
    config_path: Path
    database: Path
    district_signer: Signer
    stations: dict[str, StationSigner]
    imported: list[bytes] = field(default_factory=list)
    withheld: list[bytes] = field(default_factory=list)


def _tuesdays(first: date, last: date) -> list[date]:
    day = first + timedelta(days=(1 - first.weekday()) % 7)
    out = []
    while day <= last:
        out.append(day)
        day += timedelta(days=7)
    return out


def build_district(root: Path) -> District:
    root.mkdir(parents=True, exist_ok=True)
    key, _ = load_or_create_private_key(root / "keys" / "district.pem")
    district_signer = Signer(key)
    koi1 = StationSigner("dak-koi-01", commune="23335", key=Ed25519PrivateKey.generate())
    koi2 = StationSigner("dak-koi-02", commune="23335")  # registered, never sends anything
    ruong = StationSigner("dak-ruong-01", commune="23338")
    town = StationSigner("kon-ray-tt", commune="23332")  # the district's own station
    config = {
        "district": {"id": "kon-ray", "name": "Huyện Kon Rẫy", "timezone": "Asia/Ho_Chi_Minh"},
        "database": "data/collector.sqlite",
        "signing_key": "keys/district.pem",
        "stations": [
            {"id": "dak-koi-01", "commune": {"code": "23335", "name": "Xã Đăk Kôi"}, "keys": [koi1.jwk]},
            {"id": "dak-koi-02", "commune": {"code": "23335", "name": "Xã Đăk Kôi"}, "keys": [koi2.jwk]},
            {"id": "dak-ruong-01", "commune": {"code": "23338", "name": "Xã Đăk Ruồng"}, "keys": [ruong.jwk]},
            {"id": "kon-ray-tt", "commune": {"code": "23332", "name": "Thị trấn Đăk Rve"},
             "level": "district", "keys": [town.jwk]},
        ],
    }
    config_path = root / "district.yaml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    d = District(config_path, root / "data" / "collector.sqlite", district_signer,
                 {s.station: s for s in (koi1, koi2, ruong, town)})

    # dak-koi-01: every Tuesday 06:30 from 2023-12-26 (before the period) to 2024-12-17 (after).
    for day in _tuesdays(date(2023, 12, 26), date(2024, 12, 17)):
        slot = f"{day}T06:30:00.000+07:00"
        d.imported.append(koi1.airing(f"{day}T06:30:00.120+07:00", slot=slot))
    # dak-ruong-01: the 15th of each month, plus excluded ones, a gap and a conflict.
    for month in range(1, 12):
        d.imported.append(ruong.airing(f"2024-{month:02d}-15T17:00:00.000+07:00"))
        if month == 3:
            d.imported.append(ruong.airing("2024-03-16T17:00:00.000+07:00", outcome="interrupted"))
            d.imported.append(ruong.airing("2024-03-17T17:00:00.000+07:00", program="tin-tuc"))
            d.imported.append(ruong.airing("2024-03-18T17:00:00.000+07:00", clock_synced=False))
        if month == 5:
            d.withheld.append(ruong.airing("2024-05-20T17:00:00.000+07:00"))  # never delivered: a gap
        if month == 7:
            seq, prev = ruong.seq, ruong.prev
            d.imported.append(ruong.airing("2024-07-20T17:00:00.000+07:00"))
            ruong.seq, ruong.prev = seq, prev
            d.imported.append(ruong.airing("2024-07-21T17:00:00.000+07:00"))  # same seq: conflict
    for week in range(0, 20):
        d.imported.append(town.airing(f"{date(2024, 1, 3) + timedelta(days=7 * week)}T18:00:00.000+07:00"))

    events_file = root / "station-events.jsonl"
    events_file.write_bytes(b"".join(j + b"\n" for j in d.imported))
    cfg = load_district_config(config_path)
    with SqliteStore(cfg.database) as store:
        counts = import_files(cfg, store, [events_file],
                              clock=SimulatedClock(datetime(2024, 12, 11, tzinfo=UTC)))
        assert counts["rejected"] == 0, counts
        for version, month in ((1, 1), (2, 2)):
            last = (date(2024, month + 1, 1) - timedelta(days=1)).isoformat()
            payload = schedule_payload("dak-koi-01", version, f"2024-{month:02d}-01", last, [
                {"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU",
                 "dtstart": f"2024-{month:02d}-01T06:30:00+07:00"}])
            body = canonical_json(payload)
            store.add_schedule("dak-koi-01", version, district_signer.sign(body, SCHEDULE_TYP),
                               sha256_hex(body), datetime(2024, month, 1, tzinfo=UTC))
    return d


def read_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]


def rewrite_manifest_hashes(bundle: Path) -> None:
    """What a tamperer does after editing a file: recompute every hash in manifest.json."""
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    for entry in manifest["files"]:
        data = (bundle / entry["name"]).read_bytes()
        entry["sha256"], entry["bytes"] = sha256_hex(data), len(data)
    (bundle / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
