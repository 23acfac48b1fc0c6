"""One migration step: a part's schema from ``version - 1`` to ``version``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class Step:
    """``sql`` (statements separated by ``;``) runs first, then ``fill`` (a data step, e.g.
    filling a new table from an old one), both inside the migration's one transaction."""

    part: str
    version: int
    description: str
    sql: str
    fill: Callable[[psycopg.Connection[tuple[object, ...]]], int] | None = None
