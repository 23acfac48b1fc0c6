"""The Excel catalogue's layout, shared by the template writer and the reader.

One workbook per month (``radio-district catalogue template --month YYYY-MM``):

- sheet ``Danh mục`` (:data:`MAIN_SHEET`): a title in row 1, the headers of
  :data:`COLUMNS` in row :data:`HEADER_ROW`, then one airing per row (the first row a
  filled example). The reader finds the columns by their header text, so the office may
  reorder them;
- sheet ``Hướng dẫn``: how to fill it in, Vietnamese first, English below;
- sheet ``Danh sách``: the lists behind the dropdowns, and the workbook's month in the cell
  named :data:`MONTH_NAME` (text ``YYYY-MM``): the reader refuses a workbook of another
  month, or one without it.
"""

from __future__ import annotations

MAIN_SHEET = "Danh mục"
HELP_SHEET = "Hướng dẫn"
LISTS_SHEET = "Danh sách"
MONTH_NAME = "DanhMuc_Thang"
HEADER_ROW = 2
FIRST_ROW = HEADER_ROW + 1
TEMPLATE_ROWS = 500  # rows with dropdowns below the header

# key -> (Vietnamese header, English name, column width)
COLUMNS: dict[str, tuple[str, str, int]] = {
    "title": ("Tiêu đề", "Title", 48),
    "program": ("Chương trình", "Programme", 18),
    "topic": ("Chủ đề", "Topic", 16),
    "priority": ("Mức ưu tiên", "Priority", 13),
    "media": ("Tệp âm thanh", "Audio file", 34),
    "when": ("Ngày / Thứ", "Date / weekday", 22),
    "at": ("Giờ", "Time", 13),
    "stations": ("Trạm", "Stations", 24),
}
REQUIRED = ("title", "program", "media", "when", "at")

PROGRAMS = ("chuyen-doi-so", "general")
TOPICS = ("policy", "national-dx-day", "models", "benefits", "ecommerce", "other")
# what the dropdown shows -> the protocol's priority
PRIORITY_LABELS: dict[str, str] = {"thường": "normal", "ưu tiên": "priority", "khẩn cấp": "emergency"}
WEEKDAY_LABELS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật", "Hằng ngày")
# weekday words the reader takes beyond schedules.catalogue.WEEKDAYS ("thứ hai", "t2", "monday"...)
EXTRA_WEEKDAYS: dict[str, str] = {
    "thứ 2": "MO", "thứ 3": "TU", "thứ 4": "WE", "thứ 5": "TH", "thứ 6": "FR", "thứ 7": "SA",
    "thu hai": "MO", "thu ba": "TU", "thu tu": "WE", "thu nam": "TH", "thu sau": "FR", "thu bay": "SA",
    "chu nhat": "SU", "tuesday": "TU", "thứ tư": "WE",
}
