"""Every string an official reads in the district's documents, in Vietnamese and English.

Vietnamese (``vi``) is the language of record; ``en`` is for reviewers. Wording follows the
district letter: "tài liệu kiểm chứng", "danh mục phát sóng",
"Chuyển đổi số", "Tiêu chí", "hệ thống truyền thanh cơ sở". Codes (tiers,
outcomes, exclusion reasons) stay machine codes in the data and are translated only here.
The criteria's own wording comes from the criteria set (docs/scoring.md "Criteria files"),
the region's level word ({unit}: huyện, tỉnh...) from the config (``district.level``).
"""

from __future__ import annotations

from district_collector.documents.i18n_codes import (
    code_text,
    failure_text,
    finding_text,
    format_date,
    format_duration,
)
from district_collector.region import place_name, region_level
from radio_protocol.errors import CommuneRadioError

__all__ = ["LANGS", "WEEKDAYS", "DocumentError", "check_lang", "code_text", "failure_text", "finding_text",
           "format_date", "format_duration", "grid_name", "region_place", "region_unit", "t", "tier_name",
           "weekday_name"]

LANGS = ("vi", "en")


class DocumentError(CommuneRadioError):
    """A document could not be produced (no usable font, unwritable path, bad input)."""


def check_lang(lang: str) -> str:
    """``lang`` if it is ``vi`` or ``en``; DocumentError otherwise."""
    if lang not in LANGS:
        raise DocumentError(f"unknown document language {lang!r}: use one of {', '.join(LANGS)}")
    return lang


_T: dict[str, tuple[str, str]] = {
    # header of an official document
    "committee": ("ỦY BAN NHÂN DÂN", "PEOPLE'S COMMITTEE"),
    "nation": ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "SOCIALIST REPUBLIC OF VIET NAM"),
    "motto": ("Độc lập - Tự do - Hạnh phúc", "Independence - Freedom - Happiness"),
    "doc_number": ("Số: ......../{code}", "No.: ......../{code}"),
    "place_date": ("{place}, ngày ..... tháng ..... năm {year}", "{place}, ..... / ..... / {year}"),
    # evidence report
    "report_doc_title": ("Tài liệu kiểm chứng - Chuyển đổi số", "Verification document - Digital transformation"),
    "report_title": ("TÀI LIỆU KIỂM CHỨNG", "VERIFICATION DOCUMENT"),
    "report_subtitle": (
        "Tần suất phát sóng chuyên mục Chuyển đổi số trên hệ thống truyền thanh cơ sở",
        "Broadcast frequency of the Digital Transformation programme on the grassroots radio system",
    ),
    "district": ("Đơn vị", "District"),
    "period": ("Kỳ đánh giá", "Evaluation period"),
    "period_value": ("từ ngày {from_} đến ngày {to} (múi giờ {tz})", "from {from_} to {to} (timezone {tz})"),
    "summary_line": (
        "Toàn {unit}: {airings} lượt phát được tính; {weeks_aired}/{required_weeks} tuần có phát sóng; "
        "{months_aired}/{required_months} tháng có phát sóng; tần suất: {tier}.",
        "Whole {unit}: {airings} counted airings; {weeks_aired}/{required_weeks} weeks aired; "
        "{months_aired}/{required_months} months aired; frequency: {tier}.",
    ),
    "sec_points": ("I. KẾT QUẢ CHẤM ĐIỂM CÁC TIÊU CHÍ", "I. POINTS BY CRITERION"),
    "sec_grid": ("II. PHÁT SÓNG THEO TUẦN (TUẦN ISO, THỨ HAI - CHỦ NHẬT)", "II. AIRINGS WEEK BY WEEK (ISO WEEKS, MONDAY - SUNDAY)"),
    "sec_airings": ("III. DANH SÁCH CÁC LƯỢT PHÁT ĐƯỢC TÍNH", "III. COUNTED AIRINGS"),
    "sec_excluded": ("IV. CÁC SỰ KIỆN KHÔNG ĐƯỢC TÍNH VÀ LÝ DO", "IV. EVENTS NOT COUNTED AND WHY"),
    "sec_stations": ("V. DỮ LIỆU TỪNG TRẠM VÀ CÁC PHÁT HIỆN", "V. PER-STATION DATA AND FINDINGS"),
    "sec_verify": ("VI. CÁCH KIỂM TRA TÀI LIỆU NÀY", "VI. HOW TO VERIFY THIS DOCUMENT"),
    "col_unit": ("Đơn vị", "Unit"),
    "col_criterion": ("Tiêu chí", "Criterion"),
    "col_content": ("Nội dung", "Content"),
    "col_result": ("Kết quả", "Result"),
    "col_max": ("Điểm tối đa", "Max points"),
    "col_points": ("Điểm đạt", "Points"),
    "district_total": ("Cộng điểm các tiêu chí về truyền thanh cấp {unit}", "Total of the {unit}'s radio criteria"),
    "has_programme": ("Có chuyên mục ({n} lượt phát)", "Programme present ({n} airings)"),
    "no_programme": ("Không có lượt phát nào", "No airing"),
    "col_commune": ("Xã, thị trấn", "Commune"),
    "col_code": ("Mã", "Code"),
    "col_stations": ("Trạm", "Stations"),
    "col_weeks": ("Tuần đạt / yêu cầu", "Weeks aired / required"),
    "col_months": ("Tháng đạt / yêu cầu", "Months aired / required"),
    "col_tier": ("Tần suất", "Frequency"),
    "col_airings": ("Lượt phát", "Airings"),
    "col_excluded": ("Không tính", "Excluded"),
    "col_conflicts": ("Xung đột", "Conflicts"),
    "col_schedule": ("Theo lịch (phát / lịch)", "Schedule (aired / scheduled)"),
    "col_missing_weeks": ("Tuần không phát", "Weeks not aired"),
    "col_missing_months": ("Tháng không phát", "Months not aired"),
    "col_week": ("Tuần", "Week"),
    "col_week_start": ("Từ ngày", "From"),
    "col_week_end": ("Đến ngày", "To"),
    "col_required": ("Bắt buộc", "Required"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "legend_aired": ("có phát sóng", "aired"),
    "legend_not_aired": ("không phát sóng", "not aired"),
    "legend_not_required": ("tuần không trọn trong kỳ (không bắt buộc)", "week not wholly in the period (not required)"),
    "legend": ("Chú thích", "Legend"),
    "col_no": ("STT", "No."),
    "col_date": ("Ngày", "Date"),
    "col_time": ("Giờ", "Time"),
    "col_station": ("Trạm", "Station"),
    "col_segment": ("Tiết mục", "Segment"),
    "col_duration": ("Thời lượng", "Duration"),
    "col_lufs": ("Độ to (LUFS)", "Loudness (LUFS)"),
    "col_slot": ("Khung giờ theo lịch", "Scheduled slot"),
    "manual": ("ngoài lịch", "manual"),
    "col_seq": ("Số thứ tự", "Seq"),
    "col_started": ("Thời điểm", "Started at"),
    "col_segment_id": ("Mã tiết mục", "Segment ID"),
    "col_played_s": ("Thời lượng đã phát (giây)", "Seconds played"),
    "col_started_exact": ("Thời điểm bắt đầu (giờ địa phương)", "Started at (local time)"),
    "district_level": ("Trạm cấp {unit}", "{unit}-level stations"),
    "chart_title": ("Số lượt phát được tính theo tuần, từng xã, thị trấn", "Counted airings per week, by commune"),
    "chart_y": ("Số lượt phát", "Airings"),
    "chart_x": ("Tuần ISO", "ISO week"),
    "col_reason": ("Lý do không tính", "Reason not counted"),
    "col_seq_range": ("Dải số thứ tự", "Seq range"),
    "col_events": ("Sự kiện", "Events"),
    "col_gaps": ("Khoảng thiếu", "Gaps"),
    "col_chain_breaks": ("Đứt chuỗi", "Chain breaks"),
    "col_bad_signatures": ("Chữ ký sai", "Bad signatures"),
    "findings": ("Các phát hiện", "Findings"),
    "no_findings": ("Không có phát hiện nào.", "No findings."),
    "none_listed": ("Không có.", "None."),
    "empty_report": (
        "Không có dữ liệu: danh sách trạm chưa có xã, thị trấn nào hoặc không có sự kiện nào trong kỳ đánh giá.",
        "No data: the registry has no commune, or there is no event in the evaluation period.",
    ),
    "no_communes": (
        "Chưa có trạm cấp xã nào được đăng ký: không có xã, phường, thị trấn nào để chấm Tiêu chí {ids}.",
        "No commune-level station is registered: no commune to score for criterion {ids}.",
    ),
    "no_airings": ("Không có lượt phát nào được tính trong kỳ.", "No counted airing in the period."),
    "truncated": (
        "Chỉ in {shown} trên tổng số {total} lượt phát; danh sách đầy đủ trong tệp report.xlsx và events.jsonl.",
        "Only {shown} of {total} airings are printed; the full list is in report.xlsx and events.jsonl.",
    ),
    "verify_text": (
        "Tài liệu này được lập tự động từ các sự kiện phát sóng do từng trạm ký số (Ed25519). "
        "Bộ hồ sơ kèm theo gồm: report.pdf, report.xlsx, report.json, events.jsonl (nguyên văn các sự kiện "
        "đã ký), keys.json (khóa công khai của các trạm và của {unit}) và manifest.json (mã băm SHA-256 "
        "của từng tệp, có chữ ký của {unit}). Để kiểm tra, chạy lệnh:",
        "This document was produced from airing events signed by each station (Ed25519). The bundle "
        "holds report.pdf, report.xlsx, report.json, events.jsonl (the signed events exactly as "
        "received), keys.json (the stations' and the {unit}'s public keys) and manifest.json (the "
        "SHA-256 of every file, signed by the {unit}). To verify, run:",
    ),
    "verify_cmd": ("radio-district verify THƯ-MỤC", "radio-district verify DIR"),
    "verify_after": (
        "Lệnh kiểm tra lại mọi chữ ký, tính liên tục số thứ tự và chuỗi sự kiện của từng trạm, mã băm "
        "của các tệp, và tính lại kết quả chấm điểm; kết quả \"ĐÃ XÁC MINH\" nghĩa là khớp hoàn toàn. "
        "Đối chiếu dấu vân tay khóa của {unit} dưới đây với dấu vân tay do UBND {unit} công bố.",
        "The command re-checks every signature, each station's seq and chain continuity, the file "
        "hashes, and recomputes the scores; \"verified\" means everything matches. Compare the "
        "{unit} key thumbprint below with the one the {unit} office publishes.",
    ),
    "thumbprint": ("Dấu vân tay khóa của {unit} (RFC 7638)", "Key thumbprint of the {unit} (RFC 7638)"),
    "thumbprint_unknown": ("xem khóa cấp {unit} trong keys.json", "see the {unit}-level key in keys.json"),
    "prepared_by": ("NGƯỜI LẬP", "PREPARED BY"),
    "on_behalf": ("TM. ỦY BAN NHÂN DÂN", "FOR THE PEOPLE'S COMMITTEE"),
    "sign_hint": ("(Ký, ghi rõ họ tên)", "(Signature, full name)"),
    "sign_seal_hint": ("(Ký, ghi rõ họ tên, đóng dấu)", "(Signature, full name, seal)"),
    "page": ("Trang {n}", "Page {n}"),
    # spreadsheets
    "sheet_summary": ("Tổng hợp", "Summary"),
    "sheet_grid": ("Lưới tuần", "Weeks grid"),
    "sheet_airings": ("Lượt phát", "Airings"),
    "sheet_excluded": ("Không tính", "Excluded"),
    "sheet_stations": ("Trạm", "Stations"),
    "sheet_segments": ("Tiết mục", "Segments"),
    "sheet_slots": ("Lịch phát", "Schedule"),
    "sheet_weekly": ("Số lần theo tuần", "Per week"),
    "whole_district": ("Toàn {unit}", "Whole {unit}"),
    # broadcast catalogue
    "cat_doc_title": ("Danh mục phát sóng - Chuyển đổi số", "Broadcast catalogue - Digital transformation"),
    "cat_title": ("DANH MỤC PHÁT SÓNG", "BROADCAST CATALOGUE"),
    "cat_subtitle": ("chuyên mục Chuyển đổi số - Tháng {mm}/{yyyy}", "Digital Transformation programme - {mm}/{yyyy}"),
    "cat_basis": (
        "Ban hành danh mục phát sóng về Chuyển đổi số hàng tháng, với thời lượng đảm bảo tối thiểu 01 lần/tuần.",
        "The monthly broadcast catalogue of the Digital Transformation programme, at least once a week.",
    ),
    "cat_sec_segments": ("I. CÁC TIẾT MỤC", "I. SEGMENTS"),
    "cat_sec_slots": ("II. NGÀY, GIỜ PHÁT THEO TỪNG TRẠM", "II. DAYS AND TIMES PER STATION"),
    "cat_sec_weekly": ("III. SỐ LẦN PHÁT THEO TUẦN", "III. AIRINGS PER WEEK"),
    "col_title": ("Tên tiết mục", "Title"),
    "col_topic": ("Chủ đề", "Topic"),
    "col_priority": ("Mức ưu tiên", "Priority"),
    "col_weekday": ("Thứ", "Day"),
    "col_total": ("Tổng", "Total"),
    "all_stations": ("Tổng cộng", "All stations"),
    "col_meets": ("Đạt tối thiểu 01 lần/tuần", "At least once a week"),
    "col_valid": ("Hiệu lực", "In force"),
    "col_version": ("Phiên bản", "Version"),
    "min_weekly_note": (
        "Yêu cầu: tối thiểu 01 lần/tuần. Chỉ tính các tiết mục thuộc chuyên mục Chuyển đổi số và các tuần ISO "
        "(thứ Hai - Chủ nhật) nằm trọn trong tháng; tuần đánh dấu * nằm một phần ngoài tháng và được xét "
        "cùng danh mục của tháng liền kề.",
        "Requirement: at least once a week. Only segments of the Digital Transformation programme and ISO "
        "weeks (Monday - Sunday) wholly inside the month count; weeks marked * lie partly outside the month "
        "and are judged with the adjacent month's catalogue.",
    ),
    "no_stations": ("Chưa có lịch phát của trạm nào trong tháng.", "No station has a schedule for this month."),
    "no_slots": ("Không có lượt phát nào trong tháng.", "No airing in this month."),
    "partial_week": ("không trọn tháng", "partly outside the month"),
}

_TIERS: dict[str, tuple[str, str]] = {
    "weekly": ("Hằng tuần (≥ 1 lần/tuần)", "Weekly (≥ once a week)"),
    "monthly": ("Hằng tháng (≥ 1 lần/tháng)", "Monthly (≥ once a month)"),
    "none": ("Dưới 1 lần/tháng", "Less than once a month"),
}

_GRID: dict[str, tuple[str, str]] = {
    "aired": ("có phát", "aired"),
    "not-aired": ("không phát", "not aired"),
    "not-required": ("không bắt buộc", "not required"),
}

WEEKDAYS: tuple[tuple[str, str], ...] = (
    ("Thứ Hai", "Monday"), ("Thứ Ba", "Tuesday"), ("Thứ Tư", "Wednesday"), ("Thứ Năm", "Thursday"),
    ("Thứ Sáu", "Friday"), ("Thứ Bảy", "Saturday"), ("Chủ nhật", "Sunday"),
)


def region_unit(name: str, lang: str, level: str | None = None) -> str:
    """The region's level word, lower case: the configured ``level`` code's when given, else
    the one its name says (``Tỉnh Quảng Ngãi`` -> ``tỉnh``/``province``), else ``huyện``
    (``district``); see :mod:`district_collector.region`."""
    return region_level(name, level).unit(lang)


def region_place(name: str) -> str:
    """The place name without its unit: ``Huyện Kon Rẫy`` -> ``Kon Rẫy`` (for the date line)."""
    return place_name(name)


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "vi" else pair[1]


def t(key: str, lang: str, **fmt: object) -> str:
    """The string ``key`` in ``lang``, formatted with ``fmt``; KeyError for an unknown key."""
    text = _pick(_T[key], lang)
    return text.format(**fmt) if fmt else text


def tier_name(tier: str | None, lang: str) -> str:
    """``weekly``/``monthly``/``none`` as the official reads it; unknown codes pass through."""
    pair = _TIERS.get(tier or "none")
    return _pick(pair, lang) if pair else str(tier)


def grid_name(state: str, lang: str) -> str:
    """A weeks-grid cell state (``aired``/``not-aired``/``not-required``) in words."""
    pair = _GRID.get(state)
    return _pick(pair, lang) if pair else state


def weekday_name(index: int, lang: str) -> str:
    """Monday = 0 .. Sunday = 6."""
    return _pick(WEEKDAYS[index], lang)


