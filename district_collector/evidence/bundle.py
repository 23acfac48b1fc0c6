"""The evidence bundle ("tài liệu kiểm chứng") a district hands the province.

``evidence --from --to --out DIR`` writes into a new (or empty) directory:

- ``events.jsonl``: the period's events, one flattened JWS per line, the bytes exactly
  as received, ordered by station, seq, payload hash. "The period's events" are, per
  station, every stored event whose seq lies between (the lowest seq started inside
  the period) - 1 and (the highest) + 1: whole seq ranges, so a removed event shows as
  a gap, both payloads of a conflict are present, and the neighbours let a reader
  check the chain into and out of the period.
- ``schedules.jsonl``: the district-signed schedules whose validity overlaps the period.
- ``keys.json``: the registry (district and station public JWKs, communes, levels).
- ``criteria.json``: the criteria set the report was scored with (docs/scoring.md
  "Criteria files"), so ``verify`` recomputes with the same rules.
- ``report.json``: the report; ``report.pdf`` and ``report.xlsx``: the same for people.
- ``VERIFY.txt``: how to check the bundle (Vietnamese and English).
- ``manifest.json``: SHA-256 and size of every file above, the period, when and by
  what it was generated, the district key's thumbprint; ``manifest.jws``: the manifest
  bytes signed with the district key (flattened JWS, ``typ`` ``cr-manifest+json``).

Every file is written durably (temp + fsync + rename); the manifest and its signature
last, so a bundle interrupted half-way has no manifest and fails verification.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from district_collector.registry import Registry
from district_collector.scoring.compute import Period
from district_collector.scoring.criteria import CriteriaSet, default_criteria
from district_collector.scoring.facts import payload_bytes
from district_collector.scoring.report import report_json
from district_collector.store.records import StoredEvent
from radio_protocol import SW_VERSION
from radio_protocol.durable import atomic_write, fsync_dir
from radio_protocol.errors import CommuneRadioError
from radio_protocol.jose import Signer, canonical_json, sha256_hex
from radio_protocol.names import MANIFEST_TYP
from radio_protocol.timefmt import format_rfc3339

log = logging.getLogger(__name__)

EVENTS = "events.jsonl"
SCHEDULES = "schedules.jsonl"
KEYS = "keys.json"
CRITERIA = "criteria.json"
REPORT = "report.json"
REPORT_PDF = "report.pdf"
REPORT_XLSX = "report.xlsx"
README = "VERIFY.txt"
MANIFEST = "manifest.json"
MANIFEST_JWS = "manifest.jws"
MANIFEST_TYPE = "evidence-manifest"

VERIFY_TEXT = """\
Kiểm chứng bộ tài liệu này / How to verify this bundle
======================================================

Tiếng Việt
- Chạy: radio-district verify THƯ-MỤC --district-key={kid}
  (không cần cấu hình hay cơ sở dữ liệu).
- Lệnh kiểm tra chữ ký của từng sự kiện phát sóng (events.jsonl) với khóa công khai của
  từng trạm (keys.json), tính liên tục số thứ tự và chuỗi băm của mỗi trạm, mã SHA-256
  của mọi tệp (bảng kê manifest.json), chữ ký của {unit_vi} trên bảng kê (manifest.jws), và tính lại
  báo cáo (report.json) từ các sự kiện theo bộ tiêu chí đã dùng (criteria.json).
- So sánh mã khóa của {unit_vi} in ra ({kid}) với mã khóa {unit_vi} đã công bố.
- Kết quả "VERIFIED / ĐÃ XÁC MINH" nghĩa là tài liệu không bị sửa đổi.

English
- Run: radio-district verify DIR --district-key={kid}  (no config, no database).
- It checks every airing event's signature (events.jsonl) against its station's public
  key (keys.json), each station's seq and hash-chain continuity, the SHA-256 of every file
  (manifest.json), the {unit_en}'s signature over the manifest (manifest.jws), and
  recomputes the report (report.json) from the events with the criteria set it used
  (criteria.json).
- Compare the {unit_en} key id it prints ({kid}) with the {unit_en}'s published key.
- Any stock JOSE library can check the signatures: flattened JWS, EdDSA (Ed25519).
"""


class EvidenceError(CommuneRadioError):
    """The bundle cannot be written (directory not empty, a document failed...)."""


def jsonl_line(jws: bytes) -> bytes:
    """One JSON Lines line for a JWS: the bytes as received.

    A JWS whose JSON has line breaks between members (legal JSON, but not one line) is
    written compactly: the three base64url members, and so what was signed, are unchanged.
    """
    if b"\n" not in jws and b"\r" not in jws:
        return jws + b"\n"
    return canonical_json(json.loads(jws)) + b"\n"


def _prepare_dir(out_dir: Path) -> bool:
    """Make sure ``out_dir`` is a new or empty directory; True when this call created it."""
    try:
        if out_dir.exists():
            if not out_dir.is_dir():
                raise EvidenceError(f"{out_dir} exists and is not a directory")
            if any(out_dir.iterdir()):
                raise EvidenceError(f"{out_dir} is not empty: give a new directory for the bundle")
            probe = out_dir / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
            return False
        out_dir.mkdir(parents=True)
        return True
    except OSError as exc:
        raise EvidenceError(f"cannot write the bundle into {out_dir}: {exc.strerror or exc}") from exc


def _remove_partial(out_dir: Path, names: Iterable[str], created: bool) -> None:
    """Take back what an interrupted write_bundle wrote: never leave half a bundle."""
    for name in names:
        for path in (out_dir / name, *out_dir.glob(f".{name}*")):
            try:
                path.unlink()
            except OSError:
                pass
    if created:
        try:
            out_dir.rmdir()
        except OSError:
            pass


def _what_happened(events: Iterable[StoredEvent]) -> dict[tuple[str, int, str], dict[str, Any]]:
    """(station, seq, payload SHA-256) -> the payload's ``outcome``, ``reason``, ``played_s``
    and ``media_s`` for events that did not complete (what the exclusions table says)."""
    out: dict[tuple[str, int, str], dict[str, Any]] = {}
    for event in events:
        if event.facts.outcome in (None, "completed"):
            continue
        try:
            payload = json.loads(payload_bytes(event.jws))
        except ValueError:
            continue
        if isinstance(payload, dict):
            out[(event.station, event.seq, event.payload_sha256)] = {
                "outcome": payload.get("outcome"), "outcome_reason": payload.get("reason"),
                "played_s": payload.get("played_s"), "media_s": payload.get("media_s")}
    return out


def document_view(report: Mapping[str, Any], registry: Registry,
                  events: Iterable[StoredEvent] = (), criteria: CriteriaSet | None = None) -> dict[str, Any]:
    """The report as the printed documents see it; report.json itself is not changed.

    Adds ``criteria_set`` (the set scored, :meth:`CriteriaSet.as_json`: the documents'
    criteria wording and maximum points), ``region_level`` (the configured level code,
    ``huyen``, ``tinh``...; None: the documents read it from the name), ``commune_names``
    (code -> name of every registered station's commune, district-level stations'
    included), so no table shows a bare commune code, and gives
    each exclusion for ``outcome`` the event's own ``outcome``, protocol ``outcome_reason``,
    ``played_s`` and ``media_s`` (from the signed payloads), so the documents say what
    really happened (e.g. missed: station offline, 0 s played) rather than "not completed".
    """
    names = {s.commune_code: s.commune_name for s in registry.stations if s.commune_name}
    happened = _what_happened(events)
    excluded = [{**x, **happened.get((x.get("station"), x.get("seq"), x.get("payload_sha256")), {})}
                if x.get("reason") == "outcome" else x for x in report.get("excluded") or []]
    return {**report, "criteria_set": (criteria or default_criteria()).as_json(),
            "region_level": registry.level, "commune_names": names, "excluded": excluded}


def _render_documents(report: Mapping[str, Any], out_dir: Path, lang: str,
                      registry: Registry | None = None, events: Iterable[StoredEvent] = (),
                      criteria: CriteriaSet | None = None, generated_at: datetime | None = None) -> list[str]:
    """report.pdf and report.xlsx by the documents modules, dated ``generated_at`` (so the
    same report gives the same bytes); names of the files written."""
    if registry is not None:
        report = document_view(report, registry, events, criteria)
    written = []
    try:
        from district_collector.documents.pdf_report import write_report_pdf
    except ImportError:  # the documents module is optional in a stripped install
        log.warning("evidence: PDF module not available, report.pdf not written")
    else:
        write_report_pdf(report, out_dir / REPORT_PDF, lang, generated_at)
        written.append(REPORT_PDF)
    try:
        from district_collector.documents.xlsx_report import write_report_xlsx
    except ImportError:
        log.warning("evidence: XLSX module not available, report.xlsx not written")
    else:
        write_report_xlsx(report, out_dir / REPORT_XLSX, lang, generated_at)
        written.append(REPORT_XLSX)
    return written


def manifest_bytes(registry: Registry, period: Period, generated_at: datetime, kid: str,
                   files: Mapping[str, bytes], counts: Mapping[str, int]) -> bytes:
    manifest = {
        "v": 1, "type": MANIFEST_TYPE, "district": registry.district_id,
        "period": period.as_json(), "generated_at": format_rfc3339(generated_at),
        "generator": f"commune-radio {SW_VERSION}", "district_key": kid,
        "counts": dict(counts),
        "files": [{"name": name, "sha256": sha256_hex(data), "bytes": len(data)}
                  for name, data in sorted(files.items())],
    }
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_bundle(
    out_dir: Path | str,
    *,
    events: Iterable[StoredEvent],
    schedules: Sequence[bytes],
    registry: Registry,
    report: Mapping[str, Any],
    period: Period,
    signer: Signer,
    generated_at: datetime,
    lang: str = "vi",
    criteria: CriteriaSet | None = None,
) -> Path:
    """Write the bundle into ``out_dir`` (new or empty); returns the directory. ``criteria``:
    the set ``report`` was scored with (default: the letter's), written as ``criteria.json``."""
    out_dir = Path(out_dir)
    if signer.kid not in registry.district_kids:
        raise EvidenceError("the signing key is not the district key of the registry")
    created = _prepare_dir(out_dir)
    rows = sorted(events, key=lambda e: (e.facts.station, e.facts.seq, e.facts.payload_sha256))
    files: dict[str, bytes] = {
        EVENTS: b"".join(jsonl_line(e.jws) for e in rows),
        SCHEDULES: b"".join(jsonl_line(s) for s in schedules),
        KEYS: (json.dumps(registry.to_keys_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
        CRITERIA: (criteria or default_criteria()).json_bytes(),
        REPORT: report_json(report),
        README: VERIFY_TEXT.format(kid=signer.kid, unit_vi=registry.region.word,
                                   unit_en=registry.region.english).encode("utf-8"),
    }
    every = [*files, REPORT_PDF, REPORT_XLSX, MANIFEST, MANIFEST_JWS]
    try:
        for name, data in files.items():
            atomic_write(out_dir / name, data)
        for name in _render_documents(report, out_dir, lang, registry, rows, criteria, generated_at):
            files[name] = (out_dir / name).read_bytes()
        manifest = manifest_bytes(registry, period, generated_at, signer.kid, files,
                                  {"events": len(rows), "schedules": len(schedules)})
        atomic_write(out_dir / MANIFEST, manifest)
        atomic_write(out_dir / MANIFEST_JWS, signer.sign(manifest, MANIFEST_TYP) + b"\n")
        fsync_dir(out_dir)
    except OSError as exc:
        _remove_partial(out_dir, every, created)
        raise EvidenceError(f"cannot write the bundle into {out_dir}: {exc.strerror or exc}; "
                            f"nothing was kept") from exc
    except BaseException:
        _remove_partial(out_dir, every, created)
        raise
    log.info("evidence written dir=%s events=%d schedules=%d kid=%s", out_dir, len(rows),
             len(schedules), signer.kid)
    return out_dir
