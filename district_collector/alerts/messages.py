"""Every string an alert message carries, in Vietnamese (``vi``, the default) and English.

Per kind: a title (what is wrong) and what to do. Placeholders are filled from the alert's
detail by :mod:`district_collector.alerts.render`; codes (kinds, outcomes, reasons) stay
codes in the data and are translated only here.
"""

from __future__ import annotations

KIND_TEXT: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    # kind: ((title vi, title en), (action vi, action en))
    "station-offline": (
        ("Trạm mất kết nối", "Station offline"),
        ("Kiểm tra nguồn điện, mạng (SIM/Wi-Fi) và thiết bị tại trạm; khởi động lại nếu cần.",
         "Check power, network (SIM/Wi-Fi) and the device at the station; restart it if needed."),
    ),
    "station-flapping": (
        ("Trạm kết nối chập chờn", "Station connection flapping"),
        ("Kiểm tra đường truyền mạng và nguồn điện của trạm (mất kết nối liên tục).",
         "Check the station's network link and power supply (it keeps dropping)."),
    ),
    "slot-missed": (
        ("Lỡ lượt phát theo lịch", "Scheduled slot missed"),
        ("Kiểm tra trạm và phát bù chuyên mục trong tuần này.",
         "Check the station and air the segment again this week."),
    ),
    "airing-failed": (
        ("Phát sóng không thành công", "Airing failed"),
        ("Kiểm tra tệp âm thanh, card âm thanh và bộ khuếch đại tại trạm; phát lại nếu cần.",
         "Check the media file, sound card and amplifier at the station; air it again if needed."),
    ),
    "dead-air": (
        ("Phát sóng nhưng không có tiếng", "Aired silence (dead air)"),
        ("Kiểm tra tệp âm thanh và mức âm lượng; phát lại chuyên mục.",
         "Check the media file and the output level; air the segment again."),
    ),
    "week-at-risk": (
        ("Nguy cơ không đạt tuần: chưa phát chuyên mục Chuyển đổi số", "Week at risk: no counted airing yet"),
        ("Bảo đảm xã phát chuyên mục trước khi hết tuần (xem các lượt còn lại trong lịch bên dưới).",
         "Make sure the commune airs the programme before the week ends (remaining slots below)."),
    ),
    "month-at-risk": (
        ("Nguy cơ không đạt tháng: chưa phát chuyên mục Chuyển đổi số", "Month at risk: no counted airing yet"),
        ("Bảo đảm xã phát chuyên mục trước khi hết tháng (xem các lượt còn lại trong lịch bên dưới).",
         "Make sure the commune airs the programme before the month ends (remaining slots below)."),
    ),
    "schedule-not-applied": (
        ("Lịch phát sóng mới chưa được áp dụng", "New schedule not applied"),
        ("Kiểm tra kết nối của trạm và lỗi lịch (nếu có); xuất bản lại lịch nếu cần.",
         "Check the station's link and the schedule error (if any); publish the schedule again if needed."),
    ),
    "media-missing": (
        ("Trạm thiếu tệp âm thanh", "Media missing at the station"),
        ("Kiểm tra máy chủ tệp âm thanh và kết nối của trạm trước giờ phát.",
         "Check the media server and the station's link before the slot."),
    ),
    "clock-unsynced": (
        ("Đồng hồ của trạm chưa đồng bộ", "Station clock not synchronized"),
        ("Kiểm tra NTP và mạng của trạm: lượt phát khi đồng hồ sai không được tính.",
         "Check NTP and the station's network: airings with a wrong clock are not counted."),
    ),
    "evidence-problem": (
        ("Vấn đề về dữ liệu kiểm chứng", "Evidence problem"),
        ("Xem 'radio-district stations'; nếu có tin nhắn giả mạo chữ ký, kiểm tra mật khẩu và khóa của trạm.",
         "See 'radio-district stations'; for messages with a bad signature, check the station's password and keys."),
    ),
}

T: dict[str, tuple[str, str]] = {
    "brand": ("Đài truyền thanh cơ sở", "Commune Radio"),
    "resolved": ("ĐÃ KHẮC PHỤC", "RESOLVED"),
    "reminder": ("NHẮC LẠI", "REMINDER"),
    "test": ("THỬ", "TEST"),
    "commune": ("Xã", "Commune"),
    "station": ("Trạm", "Station"),
    "problem": ("Vấn đề", "Problem"),
    "since": ("Từ lúc", "Since"),
    "resolved_at": ("Đã khắc phục lúc", "Resolved at"),
    "todo": ("Việc cần làm", "What to do"),
    "details": ("Chi tiết", "Details"),
    "alert_id": ("Mã cảnh báo", "Alert id"),
    "ack_hint": ("Xác nhận đã xử lý: radio-district alerts ack {id}", "Acknowledge: radio-district alerts ack {id}"),
    "remaining": ("Các lượt còn lại trong lịch", "Slots still scheduled"),
    "no_remaining": ("Không còn lượt nào trong lịch trước khi hết kỳ: cần phát bổ sung.",
                     "No slot is left before the period ends: an extra airing is needed."),
    "resolution": ("Lý do", "Why"),
    "test_subject": ("Thử kênh cảnh báo", "Alert channel test"),
    "test_body": ("Đây là tin thử của hệ thống cảnh báo. Nếu bạn nhận được, kênh này hoạt động.",
                  "This is a test message of the alert system. If you received it, this channel works."),
    "digest_subject": ("Tổng hợp cảnh báo ngày {date}: {open} đang mở", "Alert digest {date}: {open} open"),
    "digest_open": ("Cảnh báo đang mở", "Open alerts"),
    "digest_resolved": ("Đã khắc phục trong 24 giờ qua", "Resolved in the last 24 hours"),
    "digest_none": ("Không có cảnh báo nào đang mở.", "No open alert."),
    "district_wide": ("toàn đơn vị", "district-wide"),
}

RESOLUTION: dict[str, tuple[str, str]] = {
    "cleared": ("tình trạng đã hết", "the condition cleared"),
    "aired-since": ("trạm đã phát thành công sau đó", "the station aired successfully since"),
    "slot-event-arrived": ("đã nhận sự kiện của lượt phát này", "an event for this slot arrived"),
    "period-ended": ("kỳ đánh giá đã kết thúc", "the period ended"),
}

DETAIL_LABELS: dict[str, tuple[str, str]] = {
    "cause": ("Nguyên nhân", "Cause"),
    "last_status_at": ("Trạng thái cuối lúc", "Last status at"),
    "returns": ("Số lần kết nối lại", "Reconnections"),
    "slot": ("Giờ phát theo lịch", "Slot"),
    "title": ("Chuyên mục", "Segment"),
    "outcome": ("Kết quả", "Outcome"),
    "reason": ("Lý do", "Reason"),
    "silent_s": ("Thời gian im lặng (giây)", "Silent seconds"),
    "rms_dbfs": ("Mức RMS (dBFS)", "RMS level (dBFS)"),
    "period": ("Kỳ", "Period"),
    "published": ("Phiên bản đã xuất bản", "Published version"),
    "applied": ("Phiên bản đang áp dụng", "Version in force"),
    "schedule_error": ("Lỗi lịch", "Schedule error"),
    "segments": ("Tệp còn thiếu", "Missing segments"),
    "next_slot": ("Lượt phát kế tiếp", "Next slot"),
    "gaps": ("Khoảng trống số thứ tự", "Seq gaps"),
    "chain_breaks": ("Đứt chuỗi tại", "Chain breaks at"),
    "conflicts": ("Xung đột tại", "Conflicts at"),
    "forged_at": ("Tin nhắn sai chữ ký lúc", "Bad-signature message at"),
    "source": ("Nguồn", "Source"),
}

VALUE_TEXT: dict[str, tuple[str, str]] = {
    "offline-status": ("máy chủ báo trạm đã ngắt kết nối", "the broker reported the station disconnected"),
    "silent": ("không nhận được trạng thái", "no status received"),
    "failed": ("không phát được", "failed"),
    "interrupted": ("bị ngắt giữa chừng", "interrupted"),
    "station": ("trạm báo lỡ lượt", "reported by the station"),
    "inferred": ("suy ra từ lịch đã xuất bản (không nhận được sự kiện nào)",
                 "inferred from the published schedule (no event arrived)"),
}


def text(key: str, lang: str) -> str:
    """The string ``key`` of :data:`T` in ``lang`` (``vi``/``en``)."""
    return T[key][0 if lang == "vi" else 1]
