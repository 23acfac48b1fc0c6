"""The catalogue documents show each segment's loudness ("Độ to (LUFS)") when the
published schedules carry it (``segments[].loudness``, written by ``schedule publish``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from test_documents_catalogue import COMMUNES, DISTRICT, SEGMENTS, TWICE_WEEKLY, schedule
from test_evidence_support import pdf_text

from district_collector.documents.catalogue_doc import (
    build_catalogue_doc,
    write_catalogue_pdf,
    write_catalogue_xlsx,
)


def loud_doc() -> dict[str, Any]:
    body = schedule("dak-koi-01", TWICE_WEEKLY)
    body["segments"] = copy.deepcopy(SEGMENTS)
    body["segments"][0]["loudness"] = {"measured_lufs": -23.37, "target_lufs": -16.0, "true_peak_dbtp": -1.2}
    body["segments"][1]["loudness"] = {"measured_lufs": -19.04, "target_lufs": None, "true_peak_dbtp": -3.5}
    return build_catalogue_doc(DISTRICT, [body], "2024-03", COMMUNES)


def test_catalogue_xlsx_has_the_loudness_column(tmp_path: Path) -> None:
    wb = load_workbook(write_catalogue_xlsx(loud_doc(), tmp_path / "c.xlsx", "vi"))
    rows = list(wb["Tiết mục"].iter_rows(values_only=True))
    header = next(r for r in rows if r and r[0] == "STT")
    assert header[5] == "Độ to (LUFS)" and header[6] == "ID"
    by_id = {r[6]: r for r in rows if r and len(r) > 6 and isinstance(r[0], int)}
    assert by_id["cds-2024-03-a"][5] == -16.0  # normalised: the level the stations air
    assert by_id["cds-2024-03-b"][5] == -19.0  # not normalised: as measured
    assert by_id["tin-tuc-03"][5] is None


def test_catalogue_pdf_shows_loudness_in_both_languages(tmp_path: Path) -> None:
    vi = pdf_text(write_catalogue_pdf(loud_doc(), tmp_path / "c.pdf", "vi"))
    assert "Độ to (LUFS)" in vi and "-16.0" in vi and "-19.0" in vi
    en = pdf_text(write_catalogue_pdf(loud_doc(), tmp_path / "c-en.pdf", "en"))
    assert "Loudness (LUFS)" in en
