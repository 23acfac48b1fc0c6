"""Codes, findings, dates and durations in words, in Vietnamese and English.

The report keeps machine codes (docs/protocol.md outcomes and failure ``reason`` codes,
docs/scoring.md exclusion reasons, priorities, topics) and English findings; this module is
the one place that turns them into what an official reads. Every code of
``radio_protocol.messages.event`` ``OUTCOMES`` and ``REASONS`` has words here (a test checks
it). Re-exported by ``district_collector.documents.i18n``.
"""

from __future__ import annotations

import re


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "vi" else pair[1]


# Outcomes, failure reasons (docs/protocol.md) and exclusion reasons (docs/scoring.md).
_CODES: dict[str, tuple[str, str]] = {
    "completed": ("phát trọn vẹn", "completed"),
    "interrupted": ("phát chưa đủ (bị ngắt giữa chừng)", "not aired in full (stopped early)"),
    "failed": ("không phát được", "could not start"),
    "missed": ("không phát được (lỡ khung giờ)", "not aired (slot missed)"),
    "media-missing": ("thiếu tệp âm thanh", "media file missing"),
    "media-corrupt": ("tệp âm thanh bị hỏng", "media file corrupt"),
    "audio-device": ("lỗi thiết bị âm thanh", "audio device fault"),
    "amp-fault": ("lỗi bộ khuếch đại", "amplifier fault"),
    "preempted": ("nhường cho bản tin ưu tiên/khẩn cấp", "pre-empted by a priority/emergency airing"),
    "shutdown": ("thiết bị tắt giữa chừng", "device shut down"),
    "clock-unsynced": ("đồng hồ của trạm chưa được đồng bộ", "station clock not synchronised"),
    "overrun": ("vượt quá thời lượng", "overran its time"),
    "station-down": ("trạm mất kết nối (không hoạt động vào giờ phát)", "station offline at the slot time"),
    "expired": ("bản tin hết hiệu lực trước khi trạm phát được", "bulletin expired before the station could air it"),
    "bad-signature": ("chữ ký số không hợp lệ", "invalid signature"),
    "signature": ("chữ ký số không hợp lệ", "invalid signature"),
    "unknown-kid": ("khóa ký không được đăng ký cho trạm", "signing key not registered for the station"),
    "unknown-key": ("khóa ký không được đăng ký cho trạm", "signing key not registered for the station"),
    "unknown-station": ("trạm chưa được đăng ký", "station not registered"),
    "wrong-station": ("khóa ký thuộc trạm khác", "signed by another station's key"),
    "bad-payload": ("nội dung sự kiện sai định dạng", "malformed event payload"),
    "program": ("không thuộc chuyên mục Chuyển đổi số", "not the Digital Transformation programme"),
    "other-program": ("không thuộc chuyên mục Chuyển đổi số", "not the Digital Transformation programme"),
    "wrong-program": ("không thuộc chuyên mục Chuyển đổi số", "not the Digital Transformation programme"),
    "not-completed": ("không phát trọn vẹn", "not completed"),
    "outcome": ("không phát trọn vẹn", "not completed"),
    "clock-not-synced": ("đồng hồ của trạm chưa được đồng bộ", "station clock not synchronised"),
    "clock": ("đồng hồ của trạm chưa được đồng bộ", "station clock not synchronised"),
    "outside-period": ("ngoài kỳ đánh giá", "outside the evaluation period"),
    "conflict": ("xung đột: cùng số thứ tự nhưng nội dung khác", "conflict: same seq, different content"),
    "duplicate": ("bản trùng lặp", "duplicate"),
    "normal": ("thường", "normal"),
    "priority": ("ưu tiên", "priority"),
    "emergency": ("khẩn cấp", "emergency"),
    "policy": ("chủ trương, chính sách", "policy"),
    "national-dx-day": ("Ngày Chuyển đổi số quốc gia 10/10", "National Digital Transformation Day"),
    "models": ("mô hình hay, việc làm thiết thực", "good models"),
    "benefits": ("lợi ích của chính quyền số, kinh tế số, xã hội số", "benefits"),
    "ecommerce": ("thương mại điện tử", "e-commerce"),
}


def code_text(code: str | None, lang: str) -> str:
    """An outcome, failure or exclusion code in words.

    A code of the form ``head:detail`` (e.g. ``outcome:interrupted``) reads as both parts;
    an unknown code is shown as is, so nothing is hidden from the reader.
    """
    if not code:
        return ""
    if code in _CODES:
        return _pick(_CODES[code], lang)
    head, sep, detail = code.partition(":")
    if sep and head in _CODES:
        return f"{_pick(_CODES[head], lang)} ({code_text(detail, lang)})"
    return code


# The findings ``scoring`` writes in English, and how they read in Vietnamese.
_FINDINGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Station (\S+) is not in the registry: its (\d+) event\(s\) of the period do not count\.$"),
     "Trạm {0} không có trong danh sách đăng ký: {1} sự kiện của trạm trong kỳ không được tính."),
    (re.compile(r"^Station (\S+) \((.+)\) has no events in the period (\S+)\.\.(\S+)\.$"),
     "Trạm {0} ({1}) không có sự kiện nào trong kỳ {2} - {3}."),
    (re.compile(r"^Station (\S+): seqs? (\S+) missing \((\d+) event\(s\) not received\)\.$"),
     "Trạm {0}: thiếu số thứ tự {1} ({2} sự kiện không nhận được)."),
    (re.compile(r"^Station (\S+): seq (\d+) does not chain to seq (\d+) \(prev differs\)\.$"),
     "Trạm {0}: sự kiện số {1} không nối chuỗi với sự kiện số {2} (mã băm của sự kiện liền trước không khớp)."),
    (re.compile(r"^Station (\S+): seq (\d+) was received with (\d+) different payloads \(conflict\); "
                r"none of them counts\.$"),
     "Trạm {0}: số thứ tự {1} nhận được {2} nội dung khác nhau (xung đột); không nội dung nào được tính."),
    (re.compile(r"^Station (\S+): (\d+) event\(s\) do not verify with the station's registered keys "
                r"\(seq (.+)\); they do not count\.$"),
     "Trạm {0}: {1} sự kiện không khớp chữ ký số với khóa đã đăng ký của trạm (số thứ tự {2}); "
     "các sự kiện này không được tính."),
    (re.compile(r"^No events in the period (\S+)\.\.(\S+)\.$"), "Không có sự kiện nào trong kỳ {0} - {1}."),
    (re.compile(r"^The registry has no commune-level stations: no commune is scored\.$"),
     "Danh sách đăng ký không có trạm cấp xã nào: không xã nào được chấm điểm."),
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def finding_text(text: str, lang: str) -> str:
    """A finding of the report in ``lang``; findings of an unknown form are shown unchanged."""
    if lang == "en":
        return text
    for pattern, template in _FINDINGS:
        match = pattern.match(text)
        if match:
            args = [format_date(g, lang) if _ISO_DATE.match(g) else g.replace("-", "..") if g[:1].isdigit() else g
                    for g in match.groups()]
            return template.format(*args)
    return text

_OUTCOME_HEAD: dict[str, tuple[str, str]] = {
    "interrupted": ("phát chưa đủ", "not aired in full"),
    "failed": ("không phát được", "could not start"),
    "missed": ("không phát được (lỡ khung giờ)", "not aired (slot missed)"),
}


def failure_text(outcome: str, reason: str | None, played_s: float | None, media_s: float | None,
                 lang: str) -> str:
    """What happened to an airing that did not complete, from its payload.

    ``outcome`` (``interrupted``/``failed``/``missed``), the protocol ``reason`` code in words
    and the seconds played: ``missed`` + ``station-down`` + 0 s reads
    "không phát được (lỡ khung giờ): trạm mất kết nối (...); đã phát 0 giây". Unknown codes
    are shown as they are, so nothing is hidden from the reader.
    """
    pair = _OUTCOME_HEAD.get(outcome)
    text = _pick(pair, lang) if pair else code_text(outcome, lang)
    if reason:
        text += f": {code_text(reason, lang)}"
    if played_s is not None:
        if played_s < 60:
            played = f"{int(round(played_s))} giây" if lang == "vi" else f"{int(round(played_s))} s"
        else:
            played = format_duration(played_s)
        if media_s and played_s > 0:
            played += f" / {format_duration(media_s)}"
        text += f"; đã phát {played}" if lang == "vi" else f"; played {played}"
    return text


def format_duration(seconds: float | int | None) -> str:
    """``301.2`` -> ``5:01`` (minutes:seconds), ``3725`` -> ``1:02:05``; empty for None."""
    if seconds is None:
        return ""
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_date(iso: str | None, lang: str) -> str:
    """``2024-03-05`` -> ``05/03/2024`` (both languages use day/month/year here)."""
    if not iso or len(iso) < 10:
        return iso or ""
    y, m, d = iso[:10].split("-")
    return f"{d}/{m}/{y}"
