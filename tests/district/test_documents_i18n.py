"""What officials read: tier names, codes, findings and durations in Vietnamese and English."""

from __future__ import annotations

import pytest

from district_collector.documents.i18n import (
    DocumentError,
    check_lang,
    code_text,
    finding_text,
    format_date,
    format_duration,
    t,
    tier_name,
    weekday_name,
)


@pytest.mark.parametrize(("tier", "vi", "en"), [
    ("weekly", "Hằng tuần (≥ 1 lần/tuần)", "Weekly (≥ once a week)"),
    ("monthly", "Hằng tháng (≥ 1 lần/tháng)", "Monthly (≥ once a month)"),
    ("none", "Dưới 1 lần/tháng", "Less than once a month"),
    (None, "Dưới 1 lần/tháng", "Less than once a month"),
])
def test_i18n_tier_names(tier: str | None, vi: str, en: str) -> None:
    assert tier_name(tier, "vi") == vi and tier_name(tier, "en") == en


@pytest.mark.parametrize(("code", "vi"), [
    ("outcome", "không phát trọn vẹn"),
    ("program", "không thuộc chuyên mục Chuyển đổi số"),
    ("clock-unsynced", "đồng hồ của trạm chưa được đồng bộ"),
    ("bad-signature", "chữ ký số không hợp lệ"),
    ("unknown-station", "trạm chưa được đăng ký"),
    ("conflict", "xung đột: cùng số thứ tự nhưng nội dung khác"),
    ("outcome:amp-fault", "không phát trọn vẹn (lỗi bộ khuếch đại)"),
    ("something-new", "something-new"),
    ("", ""),
])
def test_i18n_codes_in_words(code: str, vi: str) -> None:
    assert code_text(code, "vi") == vi


@pytest.mark.parametrize(("finding", "vi"), [
    ("Station a-1 is not in the registry: its 3 event(s) of the period do not count.",
     "Trạm a-1 không có trong danh sách đăng ký: 3 sự kiện của trạm trong kỳ không được tính."),
    ("Station a-1 (Xã Đăk Kôi) has no events in the period 2024-01-01..2024-12-10.",
     "Trạm a-1 (Xã Đăk Kôi) không có sự kiện nào trong kỳ 01/01/2024 - 10/12/2024."),
    ("Station a: seqs 40-42 missing (3 event(s) not received).",
     "Trạm a: thiếu số thứ tự 40..42 (3 sự kiện không nhận được)."),
    ("Station a: seq 4 missing (1 event(s) not received).", "Trạm a: thiếu số thứ tự 4 (1 sự kiện không nhận được)."),
    ("Station a: seq 5 does not chain to seq 4 (prev differs).",
     "Trạm a: sự kiện số 5 không nối chuỗi với sự kiện số 4 (mã băm của sự kiện liền trước không khớp)."),
    ("Station a: seq 5 was received with 2 different payloads (conflict); none of them counts.",
     "Trạm a: số thứ tự 5 nhận được 2 nội dung khác nhau (xung đột); không nội dung nào được tính."),
    ("Station a: 2 event(s) do not verify with the station's registered keys (seq 4, 9); they do not count.",
     "Trạm a: 2 sự kiện không khớp chữ ký số với khóa đã đăng ký của trạm (số thứ tự 4, 9); "
     "các sự kiện này không được tính."),
    ("No events in the period 2024-01-01..2024-12-10.", "Không có sự kiện nào trong kỳ 01/01/2024 - 10/12/2024."),
    ("The registry has no commune-level stations: no commune is scored.",
     "Danh sách đăng ký không có trạm cấp xã nào: không xã nào được chấm điểm."),
    ("A finding of a form not known yet.", "A finding of a form not known yet."),
])
def test_i18n_findings_in_vietnamese(finding: str, vi: str) -> None:
    assert finding_text(finding, "vi") == vi
    assert finding_text(finding, "en") == finding


@pytest.mark.parametrize(("seconds", "text"), [(301.2, "5:01"), (3725, "1:02:05"), (0, "0:00"), (None, "")])
def test_i18n_durations(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_i18n_dates_weekdays_and_languages() -> None:
    assert format_date("2024-03-05", "vi") == "05/03/2024" and format_date(None, "vi") == ""
    assert [weekday_name(i, "vi") for i in (0, 6)] == ["Thứ Hai", "Chủ nhật"]
    assert t("report_title", "vi") == "TÀI LIỆU KIỂM CHỨNG" and t("page", "en", n=3) == "Page 3"
    assert check_lang("en") == "en"
    with pytest.raises(DocumentError, match="unknown document language 'de'"):
        check_lang("de")
