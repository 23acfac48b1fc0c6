"""Báo cáo: the evidence bundle as one zip, and the report's PDF and XLSX, for download.

``evidence_zip(store, config, start, end, communes=None, lang="vi", now=None, stations=None) -> bytes``:
a zip of exactly the files ``radio-district evidence`` writes (the same
:func:`~district_collector.evidence.bundle.write_bundle`, into a temp directory made
here), under one folder ``evidence-<district>-<from>-<to>/``; unzipped,
``radio-district verify`` checks it. ``communes`` limits the bundle to those communes'
stations, ``stations`` (ids / group names) to those stations (the registry, events,
schedules and report of the bundle then hold only them; :mod:`district_collector.views.scope`).
``report_pdf(store, config, start, end, communes=None, lang="vi", now=None) -> bytes`` and
``report_xlsx(...)`` are the bundle's ``report.pdf``/``report.xlsx``. Each is dated
``now`` (default: the system clock), so the same store and ``now`` give the same bytes.
EvidenceError (a CommuneRadioError) when the district key cannot be read.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path
from typing import Any

from district_collector.config import DistrictConfig
from district_collector.documents.stamp import fixed_zip
from district_collector.evidence.bundle import document_view, write_bundle
from district_collector.registry import Registry
from district_collector.scoring.compute import no_gc_pauses
from district_collector.scoring.period import Period
from district_collector.scoring.report import (
    build_report,
    decode_payload,
    period_events_from_store,
    schedules_from_store,
)
from district_collector.store.base import Store
from district_collector.store.records import StoredEvent
from district_collector.views.scope import scope_ids, scoped_registry
from radio_protocol.clock import SystemClock
from radio_protocol.jose import Signer, load_private_key


def evidence_inputs(store: Store, config: DistrictConfig, registry: Registry, period: Period,
                    only: Collection[str] | None = None) -> tuple[list[StoredEvent], list[bytes], dict[str, Any]]:
    """``(events, schedule JWS, report)`` of the period: what the evidence bundle holds
    (every event's JWS as received). ``only``: keep just these stations' events and
    schedules (None: everything stored, unregistered senders included, as ``radio-district
    evidence`` does). The command and :func:`evidence_zip` both build their bundle from this."""
    with no_gc_pauses():
        events = list(period_events_from_store(store, registry, period))
    schedules = schedules_from_store(store, period)
    if only is not None:
        ids = frozenset(only)
        events = [e for e in events if e.station in ids]
        schedules = [s for s in schedules if decode_payload(s).get("station") in ids]
    report = build_report((e.facts for e in events), registry, period,
                          [decode_payload(s) for s in schedules], config.criteria_for(period.end))
    return events, schedules, report


def bundle_registry(config: DistrictConfig, signer: Signer, communes: Collection[str] | None = None,
                    stations: Collection[str] | None = None) -> Registry:
    """The registry a bundle carries: every station, or those of ``communes`` and/or
    ``stations`` (ids / group names; :func:`~district_collector.views.scope.scoped_registry`).
    ScoringError when it would hold no station."""
    return scoped_registry(config, [signer.public_jwk], communes, stations)


def _signer(config: DistrictConfig) -> Signer:
    return Signer(load_private_key(config.signing_key))


def _period(config: DistrictConfig, start: date, end: date) -> Period:
    return Period.parse(start.isoformat(), end.isoformat(), config.district.timezone)


def evidence_zip(store: Store, config: DistrictConfig, start: date, end: date,
                 communes: Collection[str] | None = None, lang: str = "vi",
                 now: datetime | None = None, stations: Collection[str] | None = None) -> bytes:
    """The bundle of ``start`` .. ``end`` as zip bytes (see the module doc)."""
    period = _period(config, start, end)
    signer = _signer(config)
    registry = bundle_registry(config, signer, communes, stations)
    events, schedules, report = evidence_inputs(store, config, registry, period,
                                                scope_ids(registry, communes, stations))
    folder = f"evidence-{config.district.id}-{period.start}-{period.end}"
    generated_at = now or SystemClock().now()
    with tempfile.TemporaryDirectory(prefix="radio-evidence-") as tmp:
        out = write_bundle(Path(tmp) / folder, events=events, schedules=schedules, registry=registry,
                           report=report, period=period, signer=signer, generated_at=generated_at,
                           lang=lang, criteria=config.criteria_for(period.end))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.iterdir()):
                if path.is_file():
                    zf.writestr(f"{folder}/{path.name}", path.read_bytes())
    return fixed_zip(buf.getvalue(), generated_at)  # dated generated_at: the same bundle, the same bytes


def _document(store: Store, config: DistrictConfig, start: date, end: date,
              communes: Collection[str] | None, lang: str, kind: str, now: datetime | None,
              stations: Collection[str] | None) -> bytes:
    period = _period(config, start, end)
    registry = bundle_registry(config, _signer(config), communes, stations)
    events, _schedules, report = evidence_inputs(store, config, registry, period,
                                                 scope_ids(registry, communes, stations))
    view = document_view(report, registry, events, config.criteria_for(period.end))
    with tempfile.TemporaryDirectory(prefix="radio-report-") as tmp:
        path = Path(tmp) / f"report.{kind}"
        if kind == "pdf":
            from district_collector.documents.pdf_report import write_report_pdf
            write_report_pdf(view, path, lang, now or SystemClock().now())
        else:
            from district_collector.documents.xlsx_report import write_report_xlsx
            write_report_xlsx(view, path, lang, now or SystemClock().now())
        return path.read_bytes()


def report_pdf(store: Store, config: DistrictConfig, start: date, end: date,
               communes: Collection[str] | None = None, lang: str = "vi",
               now: datetime | None = None, stations: Collection[str] | None = None) -> bytes:
    """The bundle's ``report.pdf`` for the period (the same documents code and view)."""
    return _document(store, config, start, end, communes, lang, "pdf", now, stations)


def report_xlsx(store: Store, config: DistrictConfig, start: date, end: date,
                communes: Collection[str] | None = None, lang: str = "vi",
                now: datetime | None = None, stations: Collection[str] | None = None) -> bytes:
    """The bundle's ``report.xlsx`` for the period."""
    return _document(store, config, start, end, communes, lang, "xlsx", now, stations)
