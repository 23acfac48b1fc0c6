"""The evidence report's tables in words: one builder per table, shared by the PDF and the XLSX.

The row builders (``points_rows`` with ``points_total_row``, ``commune_rows``, ``airing_rows``, ``excluded_rows``,
``station_rows``, ``grid_header``, ``grid_lines``) turn the report dict into the tables an
official reads, with every code translated (see ``i18n``); ``pdf_report`` prints them and
``xlsx_report`` writes them, so paper and spreadsheet always agree. With ``excel=True`` the
dates and times are real ``date``/``time``/``datetime`` values (local, naive: Excel has no
timezone) for the spreadsheet; otherwise they are ``dd/mm/yyyy`` text. :func:`weekly_airings`
counts the counted airings per ISO week and commune for the charts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, tzinfo
from typing import Any

from district_collector.documents.i18n import (
    code_text,
    failure_text,
    finding_text,
    format_date,
    format_duration,
    t,
    tier_name,
)
from district_collector.documents.report_rules import (
    report_criteria,
    report_region,
    report_unit,
    scope_points,
    tier_points_text,
)
from district_collector.scoring.criteria import Criterion
from radio_protocol.timefmt import parse_rfc3339, zone

Cell = str | int | float | date | time | datetime
Rows = list[list[Cell]]

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _tz(report: Mapping[str, Any]) -> tzinfo:
    try:
        return zone(str((report.get("period") or {}).get("timezone") or "Asia/Ho_Chi_Minh"))
    except ValueError:
        return zone("Asia/Ho_Chi_Minh")


def local_time_text(text: object, report: Mapping[str, Any]) -> str:
    """An RFC 3339 time as ``dd/mm/yyyy HH:MM:SS`` in the report's timezone (raw if unparseable)."""
    try:
        at = parse_rfc3339(str(text)).astimezone(_tz(report))
    except ValueError:
        return str(text or "")
    return at.strftime("%d/%m/%Y %H:%M:%S")


def _commune_names(report: Mapping[str, Any]) -> dict[str, str]:
    """Commune code -> name: the scored communes, and ``commune_names`` when the evidence
    bundle adds the registry's (district-level stations sit in a commune that is not scored)."""
    extra = report.get("commune_names")
    names = {str(k): str(v) for k, v in extra.items()} if isinstance(extra, Mapping) else {}
    names.update({str(c.get("code")): str(c.get("name", c.get("code"))) for c in report.get("communes") or []})
    return names


def _commune_name(names: Mapping[str, str], code: object) -> str:
    return names.get(str(code), str(code or ""))


def points_rows(report: Mapping[str, Any], lang: str) -> tuple[list[str], Rows]:
    """The criteria set's ``region`` criteria for the whole region and, with two or more,
    their sum; then each commune's ``commune`` criteria (letter's set: 1.6, 1.7, 1.6 + 1.7,
    then 1.5 per commune). Wording and maximum points come from the set
    (:func:`~district_collector.documents.report_rules.report_criteria`)."""
    rules = report_criteria(report)
    unit = report_unit(report, lang)
    district = report.get("district") or {}
    header = [t(k, lang) for k in ("col_unit", "col_criterion", "col_content", "col_result",
                                   "col_max", "col_points")]
    name = str(district.get("name") or district.get("id") or report_region(report).title)
    region = rules.of_level("region")
    rows: Rows = [[name, c.id, c.text(lang), _result(district, c, lang), c.max_points, scope_points(district, c)]
                  for c in region]
    if len(region) > 1:
        rows.append([name, " + ".join(c.id for c in region), t("district_total", lang, unit=unit), "",
                     sum(c.max_points for c in region), sum(scope_points(district, c) for c in region)])
    for commune in report.get("communes") or []:
        rows += [[str(commune.get("name") or commune.get("code") or ""), c.id, c.text(lang),
                  _result(commune, c, lang), c.max_points, scope_points(commune, c)]
                 for c in rules.of_level("commune")]
    return header, rows


def points_total_row(report: Mapping[str, Any]) -> int | None:
    """The table row (header = 0) of the region's total in :func:`points_rows`, if any."""
    region = report_criteria(report).of_level("region")
    return len(region) + 1 if len(region) > 1 else None


def _result(scope: Mapping[str, Any], criterion: Criterion, lang: str) -> str:
    """What a scope achieved for a criterion: its airings (``has-airing``) or its tier and
    required weeks aired (``tier``)."""
    if criterion.rule == "has-airing":
        airings = int(scope.get("airings") or 0)
        return t("has_programme", lang, n=airings) if airings else t("no_programme", lang)
    return (f"{tier_name(scope.get('tier'), lang)}; {scope.get('weeks_aired', 0)}/"
            f"{scope.get('required_weeks', 0)} {t('col_week', lang).lower()}")


def commune_rows(report: Mapping[str, Any], lang: str) -> tuple[list[str], Rows]:
    """One row per commune: counts, schedule compliance and the weeks not aired."""
    header = [t(k, lang) for k in ("col_commune", "col_code", "col_stations", "col_weeks", "col_months",
                                   "col_airings", "col_excluded", "col_conflicts", "col_schedule",
                                   "col_missing_weeks")]
    rows: Rows = []
    for c in report.get("communes") or []:
        schedule = c.get("schedule") or {}
        rows.append([str(c.get("name", "")), str(c.get("code", "")), ", ".join(c.get("stations") or []),
                     f"{c.get('weeks_aired', 0)}/{c.get('required_weeks', 0)}",
                     f"{c.get('months_aired', 0)}/{c.get('required_months', 0)}",
                     int(c.get("airings") or 0), int(c.get("excluded") or 0), int(c.get("conflicts") or 0),
                     f"{schedule.get('aired', 0)}/{schedule.get('scheduled', 0)}",
                     ", ".join(str(w) for w in c.get("missing_weeks") or [])])
    return header, rows


def local_time(text: object, report: Mapping[str, Any]) -> datetime | None:
    """An RFC 3339 time as a naive local ``datetime`` in the report's timezone (None if unreadable)."""
    try:
        return parse_rfc3339(str(text)).astimezone(_tz(report)).replace(tzinfo=None)
    except ValueError:
        return None


def _slot_text(slot: object, report: Mapping[str, Any], lang: str) -> str:
    if not slot:
        return t("manual", lang)
    try:
        return parse_rfc3339(str(slot)).astimezone(_tz(report)).strftime("%d/%m %H:%M")
    except ValueError:
        return str(slot)


def _iso_date(value: object) -> date | str:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value or "")


def _clock_time(value: object) -> time | str:
    try:
        return time.fromisoformat(str(value)[:8])
    except ValueError:
        return str(value or "")


def airing_rows(report: Mapping[str, Any], lang: str, full: bool = False,
                limit: int | None = None, excel: bool = False) -> tuple[list[str], Rows]:
    """Counted airings in order (date, time, station, commune, segment, duration, slot).

    ``full`` adds seq, segment id, seconds played and the exact start for spreadsheets;
    ``limit`` keeps only the first airings (the printed list is capped, the spreadsheet is not);
    ``excel`` gives the date, time, slot and start as date/time values instead of text.
    """
    names = _commune_names(report)
    header = [t(k, lang) for k in ("col_no", "col_date", "col_time", "col_station", "col_commune",
                                   "col_segment", "col_duration", "col_slot")]
    if full:
        header += [t(k, lang) for k in ("col_seq", "col_segment_id", "col_played_s", "col_started_exact")]
    rows: Rows = []
    for i, a in enumerate(list(report.get("airings") or [])[:limit], start=1):
        slot: Cell = _slot_text(a.get("slot"), report, lang)
        row: list[Cell]
        if excel:
            slot = (local_time(a.get("slot"), report) or slot) if a.get("slot") else slot
            row = [i, _iso_date(a.get("local_date")), _clock_time(a.get("local_time"))]
        else:
            row = [i, format_date(a.get("local_date"), lang), str(a.get("local_time") or "")[:8]]
        row += [str(a.get("station", "")), _commune_name(names, a.get("commune")),
                str(a.get("title") or a.get("segment_id") or ""), format_duration(a.get("played_s")), slot]
        if full:
            started: Cell = str(a.get("started_at") or "")
            if excel:
                started = local_time(started, report) or started
            row += [int(a.get("seq") or 0), str(a.get("segment_id") or ""), float(a.get("played_s") or 0.0),
                    started]
        rows.append(row)
    return header, rows


def excluded_rows(report: Mapping[str, Any], lang: str, excel: bool = False) -> tuple[list[str], Rows]:
    """Events of the period not counted, each with its real reason in words (see :func:`reason_text`)."""
    names = _commune_names(report)
    header = [t(k, lang) for k in ("col_no", "col_station", "col_commune", "col_seq", "col_started",
                                   "col_reason")]
    rows: Rows = []
    for i, x in enumerate(report.get("excluded") or [], start=1):
        started: Cell = local_time_text(x.get("started_at"), report)
        if excel:
            started = local_time(x.get("started_at"), report) or started
        rows.append([i, str(x.get("station", "")), _commune_name(names, x.get("commune")),
                     int(x.get("seq") or 0), started, reason_text(x, lang)])
    return header, rows


def reason_text(entry: Mapping[str, Any], lang: str) -> str:
    """Why an event does not count, in words.

    Exclusion reason ``outcome`` (not completed) reads as what really happened when the entry
    carries the event's ``outcome`` and protocol ``outcome_reason`` (the evidence bundle adds
    them from the signed payloads: e.g. "không phát được: trạm mất kết nối; đã phát 0 giây");
    other reasons, and ``outcome`` without those members, read as the reason's own words.
    """
    reason = str(entry.get("reason") or "")
    outcome = entry.get("outcome")
    if reason == "outcome" and isinstance(outcome, str) and outcome != "completed":
        cause = entry.get("outcome_reason")
        return failure_text(outcome, cause if isinstance(cause, str) else None,
                            _seconds(entry.get("played_s")), _seconds(entry.get("media_s")), lang)
    text = code_text(reason, lang)
    detail = entry.get("detail")
    if detail and ":" not in reason:
        text += f" ({code_text(str(detail), lang)})"
    return text


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def station_rows(report: Mapping[str, Any], lang: str) -> tuple[list[str], Rows]:
    """Each station's seq range, event count, gaps, chain breaks and conflicts."""
    names = _commune_names(report)
    header = [t(k, lang) for k in ("col_station", "col_commune", "col_seq_range", "col_events",
                                   "col_gaps", "col_chain_breaks", "col_conflicts", "col_bad_signatures")]
    rows: Rows = []
    for s in report.get("stations") or []:
        first, last = s.get("first_seq"), s.get("last_seq")
        seq_range = f"{first}..{last}" if first is not None else "-"
        gaps = ", ".join(f"{a}..{b}" if a != b else f"{a}" for a, b in (s.get("gaps") or []))
        rows.append([str(s.get("id", "")), _commune_name(names, s.get("commune")), seq_range,
                     int(s.get("events") or 0), gaps or "-", _seqs(s.get("chain_breaks")),
                     _seqs(s.get("conflicts")), _seqs(s.get("bad_signatures") or [])])
    return header, rows


def _seqs(value: object) -> str | int:
    """A list of seqs as ``3, 7`` ("-" when empty); a plain count stays a number."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return int(value or 0)  # type: ignore[call-overload]


def finding_rows(report: Mapping[str, Any], lang: str) -> list[str]:
    """The report's findings in ``lang`` (scoring writes them in English)."""
    return [finding_text(str(f), lang) for f in report.get("findings") or []]


def grid_header(weeks: Sequence[Mapping[str, Any]], lang: str) -> tuple[list[str], list[str]]:
    """Month labels (only where a week starts a new month, else "") and week numbers."""
    months: list[str] = []
    numbers: list[str] = []
    last = ""
    for w in weeks:
        start = str(w.get("start") or "")
        month = start[5:7]
        label = ""
        if month and month != last:
            label = f"T{int(month)}" if lang == "vi" else MONTHS_EN[int(month) - 1]
            last = month
        months.append(label)
        numbers.append(str(w.get("week", ""))[-2:])
    return months, numbers


def grid_lines(report: Mapping[str, Any], lang: str) -> list[tuple[str, Mapping[str, Any], str]]:
    """Rows of the weeks grid: (label, scope with ``weeks_grid``, points text).

    The whole region comes first when the report has its grid, then each commune; points
    text: the scope's points of the set's tier criteria (letter's set: ``10 (1.7)``, ``20 (1.5)``).
    """
    lines: list[tuple[str, Mapping[str, Any], str]] = []
    rules = report_criteria(report)
    district = report.get("district") or {}
    if district.get("weeks_grid"):
        lines.append((t("whole_district", lang, unit=report_unit(report, lang)), district,
                      tier_points_text(district, rules.of_level("region"))))
    communal = rules.of_level("commune")
    for c in report.get("communes") or []:
        lines.append((str(c.get("name", c.get("code", ""))), c, tier_points_text(c, communal)))
    return lines




def weekly_airings(report: Mapping[str, Any], lang: str) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Counted airings per ISO week of the period and per commune, for the charts.

    Returns the week labels (``2024-W07``) and one ``(commune name, counts)`` per scored
    commune, counts in week order; airings of district-level stations (no scored commune)
    form one more series named after the whole district.
    """
    weeks = [str(w.get("week", "")) for w in report.get("weeks") or []]
    index = {w: i for i, w in enumerate(weeks)}
    communes = [str(c.get("code", "")) for c in report.get("communes") or []]
    names = _commune_names(report)
    counts: dict[str, list[int]] = {code: [0] * len(weeks) for code in communes}
    other = [0] * len(weeks)
    for a in report.get("airings") or []:
        day = _iso_date(a.get("local_date"))
        if not isinstance(day, date):
            continue
        iso = day.isocalendar()
        i = index.get(f"{iso.year}-W{iso.week:02d}")
        if i is None:
            continue
        (counts.get(str(a.get("commune")), other))[i] += 1
    series = [(names.get(code, code), counts[code]) for code in communes]
    if any(other):
        series.append((t("district_level", lang, unit=report_unit(report, lang)), other))
    return weeks, series
