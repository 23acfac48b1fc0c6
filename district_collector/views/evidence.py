"""Báo cáo: the evidence bundle as one zip, and the report's PDF and XLSX, for download.

``evidence_zip(store, config, start, end, communes=None, lang="vi", now=None) -> bytes``:
a zip of exactly the files ``radio-district evidence`` writes (the same
:func:`~district_collector.evidence.bundle.write_bundle`, into a temp directory made
here), under one folder ``evidence-<district>-<from>-<to>/``; unzipped,
``radio-district verify`` checks it. ``communes`` limits the bundle to those communes'
stations (the registry, events and report of the bundle then hold only them).
``report_pdf(store, config, start, end, communes=None, lang="vi", now=None) -> bytes`` and
``report_xlsx(...)`` are the bundle's ``report.pdf``/``report.xlsx``.
EvidenceError (a CommuneRadioError) when the district key cannot be read.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from district_collector.config import DistrictConfig
from district_collector.store.base import Store


def evidence_zip(store: Store, config: DistrictConfig, start: date, end: date,
                 communes: Collection[str] | None = None, lang: str = "vi",
                 now: datetime | None = None) -> bytes:
    """The bundle of ``start`` .. ``end`` as zip bytes (see the module doc)."""
    raise NotImplementedError


def report_pdf(store: Store, config: DistrictConfig, start: date, end: date,
               communes: Collection[str] | None = None, lang: str = "vi",
               now: datetime | None = None) -> bytes:
    """The bundle's ``report.pdf`` for the period."""
    raise NotImplementedError


def report_xlsx(store: Store, config: DistrictConfig, start: date, end: date,
                communes: Collection[str] | None = None, lang: str = "vi",
                now: datetime | None = None) -> bytes:
    """The bundle's ``report.xlsx`` for the period."""
    raise NotImplementedError
