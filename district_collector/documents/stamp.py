"""The documents' own time: the same inputs give the same bytes.

A PDF (ReportLab's ``CreationDate``/``ModDate`` and its ``/ID``) and an XLSX (the
workbook's ``created``/``modified`` core properties and every zip member's date) would
otherwise embed the moment they were written. The report and evidence documents take
their time from the report's or bundle's own ``generated_at`` instead:
:func:`pdf_date` is the PDF date string of that instant (for ReportLab in ``invariant``
mode, whose ``/ID`` is then a digest of the content), :func:`fixed_zip` rewrites a zip
(an .xlsx) with that date on every member and, optionally, one member replaced.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime

ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)  # the earliest date a zip member can carry


def utc(at: datetime) -> datetime:
    """``at`` in UTC (a naive ``at`` is taken as UTC), without microseconds."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.replace(microsecond=0)


def pdf_date(at: datetime) -> str:
    """The PDF date string (PDF 32000 7.9.4) of ``at`` in UTC: ``D:YYYYMMDDHHmmSS+00'00'``."""
    return f"D:{utc(at):%Y%m%d%H%M%S}+00'00'"


def fixed_zip(data: bytes, at: datetime, replace: Mapping[str, bytes] | None = None) -> bytes:
    """The zip ``data`` rewritten with every member dated ``at`` (UTC; not before 1980),
    the same order, names and contents (``replace``: new bytes for some members),
    deflated, with fixed permissions: its bytes depend on its contents and ``at`` alone."""
    stamp = max(utc(at), ZIP_EPOCH).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for member in src.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o40755 if member.is_dir() else 0o100644) << 16
            body = (replace or {}).get(member.filename)
            dst.writestr(info, src.read(member) if body is None else body)
    return out.getvalue()
