"""The administrative level of the region a collector serves, and its names.

The collector's "district" is whatever unit runs the loudspeaker systems and reports to
the province: a huyện before the 2025 reorganisation, since then a tỉnh, a xã or a phường.
``district.level`` in the config names it (a code of :data:`REGION_LEVELS`); without it
the level is read from the region's name (``Tỉnh Quảng Ngãi`` -> ``tinh``), and a name
that does not say is a huyện, as it always was. Reports, documents and the CLI take the
level's words from here instead of saying "huyện"/"district".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionLevel:
    """One level: its config ``code``, Vietnamese title (``Tỉnh``), lower-case word (``tỉnh``)
    and English word (``province``)."""

    code: str
    title: str
    word: str
    english: str

    def unit(self, lang: str) -> str:
        """The lower-case word in ``lang`` (``vi``: ``tỉnh``; otherwise ``province``)."""
        return self.word if lang == "vi" else self.english


# Longer titles first, so "Thị xã" is not read as "Thị trấn" or "Xã".
_LEVELS: tuple[RegionLevel, ...] = (
    RegionLevel("thanh-pho", "Thành phố", "thành phố", "city"),
    RegionLevel("thi-xa", "Thị xã", "thị xã", "town"),
    RegionLevel("thi-tran", "Thị trấn", "thị trấn", "township"),
    RegionLevel("dac-khu", "Đặc khu", "đặc khu", "special zone"),
    RegionLevel("huyen", "Huyện", "huyện", "district"),
    RegionLevel("quan", "Quận", "quận", "district"),
    RegionLevel("tinh", "Tỉnh", "tỉnh", "province"),
    RegionLevel("phuong", "Phường", "phường", "ward"),
    RegionLevel("xa", "Xã", "xã", "commune"),
)
REGION_LEVELS: dict[str, RegionLevel] = {level.code: level for level in _LEVELS}
DEFAULT_LEVEL = REGION_LEVELS["huyen"]


def level_in_name(name: str) -> RegionLevel | None:
    """The level a region's name starts with (``Huyện Kon Rẫy`` -> huyen), or None."""
    for level in _LEVELS:
        if name[:len(level.title) + 1].casefold() == level.title.casefold() + " ":
            return level
    return None


def region_level(name: str, code: str | None = None) -> RegionLevel:
    """The region's level: the configured ``code`` when given (KeyError for an unknown one),
    else the one its name says, else a huyện."""
    if code is not None:
        return REGION_LEVELS[code]
    return level_in_name(name) or DEFAULT_LEVEL


def place_name(name: str) -> str:
    """The place without its level word: ``Huyện Kon Rẫy`` -> ``Kon Rẫy`` (for date lines)."""
    level = level_in_name(name)
    return name[len(level.title) + 1:].strip() if level else name
