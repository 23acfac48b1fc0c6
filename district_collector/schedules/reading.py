"""One entry for every kind of catalogue file: :func:`read_catalogue` dispatches on the suffix.

``.yaml``/``.yml`` (and any other name): the YAML catalogue
(:mod:`district_collector.schedules.catalogue`); ``.xlsx``: the office's Excel template
(:mod:`district_collector.schedules.xlsx_read`); ``.ics``: an iCalendar file
(:mod:`district_collector.schedules.ics_read`). Each gives the same
:class:`~district_collector.schedules.catalogue.Catalogue`, with station groups expanded and
every rule checked as the station will, so ``schedule publish``, ``catalogue`` and the web
upload publish any of them by the same rules. Errors are ConfigError, each naming where in
the file (line and key; sheet, row and column; VEVENT UID and line).
"""

from __future__ import annotations

from pathlib import Path

from district_collector.config import DistrictConfig
from district_collector.schedules.catalogue import Catalogue, load_catalogue
from radio_protocol.errors import ConfigError

_REFUSED = {".xls": "an Excel 97-2003 workbook: save it as .xlsx (Excel Workbook)",
            ".ods": "an OpenDocument spreadsheet: save it as .xlsx",
            ".doc": "a Word document: copy the table into the Excel template",
            ".docx": "a Word document: copy the table into the Excel template",
            ".csv": "a CSV file: use the Excel template (catalogue template --month YYYY-MM)"}


def read_catalogue(path: Path | str, config: DistrictConfig, media_base: Path | None = None) -> Catalogue:
    """The catalogue in ``path`` by its suffix; ConfigError listing every problem.
    Relative media paths resolve against ``media_base`` (default: the file's folder)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _REFUSED:
        raise ConfigError([f"{path}: {_REFUSED[suffix]} / định dạng tệp không được hỗ trợ"])
    if suffix == ".xlsx":
        from district_collector.schedules.xlsx_read import read_xlsx_catalogue

        return read_xlsx_catalogue(path, config, media_base)
    if suffix == ".ics":
        from district_collector.schedules.ics_read import read_ics_catalogue

        return read_ics_catalogue(path, config, media_base)
    return load_catalogue(path, config.district.timezone, config.expand_stations, media_base)
