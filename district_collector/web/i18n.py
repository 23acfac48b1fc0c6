"""The console's own words in Vietnamese (the default) and English.

``?lang=en`` / ``?lang=vi`` switches and is remembered in the ``lang`` cookie
(:func:`pick_lang`). Codes (states, tiers, outcomes) stay codes in the API and are
translated here for the pages; the documents' catalogue
(:mod:`district_collector.documents.i18n`) supplies tiers and reasons.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from district_collector.documents.i18n import code_text, tier_name

LANGS = ("vi", "en")
LANG_COOKIE = "lang"

_WORDS: dict[str, tuple[str, str]] = {
    "app_title": ("Bảng điều khiển truyền thanh cơ sở", "Commune radio console"),
    "nav_fleet": ("Tổng quan", "Overview"),
    "nav_compliance": ("Tần suất", "Frequency"),
    "nav_stations": ("Trạm", "Stations"),
    "nav_catalogue": ("Danh mục", "Catalogue"),
    "nav_reports": ("Báo cáo", "Reports"),
    "nav_users": ("Người dùng", "Users"),
    "nav_alerts": ("Cảnh báo", "Alerts"),
    "logout": ("Đăng xuất", "Log out"),
    "login": ("Đăng nhập", "Log in"),
    "login_required": ("Cần đăng nhập (phiên đăng nhập hoặc mã API).", "Login required (a session or an API token)."),
    "username": ("Tên đăng nhập", "User name"),
    "password": ("Mật khẩu", "Password"),
    "login_refused": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "login_throttled": ("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {s} giây.",
                        "Too many failed logins. Please try again in {s} seconds."),
    "csrf_failed": ("Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang.",
                    "The session expired or the form is not valid. Please reload the page."),
    "not_found": ("Không tìm thấy trang.", "Page not found."),
    "forbidden": ("Bạn không có quyền truy cập trang này.", "You may not open this page."),
    "bad_request": ("Yêu cầu không hợp lệ", "Bad request"),
    "station": ("Trạm", "Station"),
    "commune": ("Xã", "Commune"),
    "state": ("Trạng thái", "State"),
    "last_seen": ("Lần cuối liên lạc", "Last seen"),
    "last_airing": ("Lần phát gần nhất", "Last airing"),
    "schedule": ("Lịch (gửi / áp dụng)", "Schedule (sent / applied)"),
    "media_missing": ("Thiếu tệp", "Media missing"),
    "clock": ("Đồng hồ", "Clock"),
    "pending": ("Chờ gửi", "Pending"),
    "problems": ("Vấn đề chứng cứ", "Evidence problems"),
    "all": ("Tất cả", "All"),
    "filter": ("Lọc", "Filter"),
    "map": ("Bản đồ trạm", "Station map"),
    "state_ok": ("Hoạt động", "Working"),
    "state_offline": ("Mất kết nối", "Offline"),
    "state_warning": ("Cần chú ý", "Needs attention"),
    "state_never-seen": ("Chưa liên lạc", "Never seen"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "unsynced": ("chưa đồng bộ", "not synchronized"),
    "synced": ("đã đồng bộ", "synchronized"),
    "period_from": ("Từ ngày", "From"),
    "period_to": ("Đến ngày", "To"),
    "show": ("Xem", "Show"),
    "pages": ("Các trang", "Pages"),
    "page": ("Trang", "Page"),
    "page_prev": ("Trang trước", "Previous"),
    "page_next": ("Trang sau", "Next"),
    "communes_shown": ("Các xã", "Communes"),
    "weeks": ("Theo tuần (ISO)", "By ISO week"),
    "months": ("Theo tháng", "By month"),
    "tier": ("Mức", "Tier"),
    "points": ("Điểm", "Points"),
    "district_score": ("Cấp huyện (1.6/1.7)", "District level (1.6/1.7)"),
    "cell_aired": ("đã phát", "aired"),
    "cell_not-aired": ("chưa phát", "not aired"),
    "cell_at-risk": ("có nguy cơ", "at risk"),
    "cell_excluded": ("không tính", "excluded"),
    "cell_not-required": ("không yêu cầu", "not required"),
    "chart": ("Số buổi phát mỗi tuần", "Airings per week"),
    "airings_behind": ("Các buổi phát của ô đã chọn", "Airings behind the chosen cell"),
    "as_run": ("Nhật ký phát", "As-run log"),
    "slot": ("Giờ theo lịch", "Slot"),
    "started": ("Bắt đầu thực tế", "Actual start"),
    "outcome": ("Kết quả", "Outcome"),
    "reason": ("Lý do", "Reason"),
    "played": ("Đã phát / thời lượng (giây)", "Played / media (s)"),
    "levels": ("Mức âm (RMS / đỉnh dBFS)", "Levels (RMS / peak dBFS)"),
    "amp": ("Xác nhận loa", "Amp confirmed"),
    "upcoming": ("Các buổi sắp tới", "Slots to come"),
    "history": ("Lịch sử trạng thái", "Status history"),
    "keys": ("Khóa", "Keys"),
    "upload": ("Tải lên danh mục", "Upload a catalogue"),
    "check": ("Kiểm tra", "Check"),
    "publish": ("Phát hành", "Publish"),
    "errors": ("Lỗi", "Errors"),
    "line": ("Dòng", "Line"),
    "key": ("Khóa cấu hình", "Key"),
    "preview": ("Xem trước", "Preview"),
    "published_ok": ("Đã phát hành danh mục tháng {month}.", "The catalogue of {month} is published."),
    "rollout": ("Tình trạng áp dụng", "Rollout"),
    "published": ("Đã gửi", "Published"),
    "applied": ("Đã áp dụng", "Applied"),
    "catalogue_doc": ("Tài liệu danh mục", "Catalogue document"),
    "evidence": ("Tài liệu kiểm chứng", "Evidence"),
    "communes": ("Các xã", "Communes"),
    "download_zip": ("Tải bộ kiểm chứng (.zip)", "Download the evidence bundle (.zip)"),
    "download_pdf": ("Tải báo cáo PDF", "Download the PDF report"),
    "download_xlsx": ("Tải báo cáo XLSX", "Download the XLSX report"),
    "users": ("Người dùng", "Users"),
    "role": ("Vai trò", "Role"),
    "disabled": ("Đã khóa", "Disabled"),
    "add_user": ("Thêm người dùng", "Add a user"),
    "add": ("Thêm", "Add"),
    "disable": ("Khóa", "Disable"),
    "enable": ("Mở khóa", "Enable"),
    "reset_password": ("Đặt lại mật khẩu", "Reset password"),
    "new_token": ("Tạo mã API", "New API token"),
    "token_once": ("Mã API (chỉ hiện một lần):", "API token (shown once):"),
    "audit": ("Nhật ký thao tác", "Audit log"),
    "when": ("Thời gian", "When"),
    "who": ("Người thực hiện", "Who"),
    "what": ("Thao tác", "What"),
    "detail": ("Chi tiết", "Detail"),
    "saved": ("Đã lưu.", "Saved."),
    "none": ("Không có", "None"),
    "live": ("Tự động cập nhật", "Live"),
    "alerts_intro": ("Trang cảnh báo liệt kê các sự cố đang mở, mới nhất trước; cảnh báo tự đóng khi sự cố "
                     "được khắc phục.", "The open alerts, newest first; an alert closes by itself when the "
                     "problem clears."),
    "alerts_open": ("Cảnh báo đang mở", "Open alerts"),
    "alerts_none": ("Không có cảnh báo nào đang mở.", "No open alert."),
    "alerts_history": ("Lịch sử cảnh báo", "Alert history"),
    "alerts_history_none": ("Không có cảnh báo nào đã khắc phục trong kỳ này.", "No alert resolved since then."),
    "alert_kind": ("Loại cảnh báo", "Kind"),
    "alert_since": ("Từ lúc", "Since"),
    "alert_opened": ("Mở lúc", "Opened"),
    "alert_resolved": ("Đã khắc phục lúc", "Resolved"),
    "alert_reminded": ("Đã nhắc lại lúc", "Reminder sent"),
    "alert_no_reminder": ("Chưa nhắc lại", "No reminder yet"),
    "alert_acked": ("Đã xác nhận bởi {who} lúc {at}", "Acknowledged by {who} at {at}"),
    "alert_ack": ("Xác nhận đã xử lý", "Acknowledge"),
    "alert_note": ("Ghi chú", "Note"),
    "alert_acked_ok": ("Đã xác nhận cảnh báo #{id}: không gửi nhắc lại nữa.",
                       "Alert #{id} acknowledged: no more reminders."),
    "district_wide": ("toàn huyện", "district-wide"),
    "no_location": ("Chưa có tọa độ trạm nào (khóa location trong sổ đăng ký).",
                    "No station has coordinates (the registry's location key)."),
}


def t(key: str, lang: str, **fmt: object) -> str:
    """The console's word for ``key`` in ``lang`` (``vi`` or ``en``)."""
    vi, en = _WORDS[key]
    text = en if lang == "en" else vi
    return text.format(**fmt) if fmt else text


def words(lang: str) -> dict[str, str]:
    """Every word in ``lang``, for the pages' JavaScript (live updates)."""
    return {k: t(k, lang) for k in _WORDS}


def tier(code: str | None, lang: str) -> str:
    return tier_name(code, lang)


def code(value: str | None, lang: str) -> str:
    """An outcome or reason code in words (the documents' catalogue); the code itself
    when the catalogue has no words for it."""
    if not value:
        return ""
    try:
        return code_text(value, lang)
    except (KeyError, ValueError):
        return value


def pick_lang(request: Request) -> str:
    """``?lang=`` when given and known, else the ``lang`` cookie, else Vietnamese."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return str(asked)
    cookie = request.cookies.get(LANG_COOKIE)
    return cookie if cookie in LANGS else "vi"


class LangCookie:
    """ASGI middleware: a request with ``?lang=vi|en`` answers with the ``lang`` cookie set,
    so the choice holds on the next pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = Request(scope).query_params.get("lang")
        if asked not in LANGS:
            await self.app(scope, receive, send)
            return
        cookie = f"{LANG_COOKIE}={asked}; Path=/; Max-Age=31536000; SameSite=Strict".encode()

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, with_cookie)
