"""Opening the station's outbox at start, and recovering from a lost or damaged one.

:func:`open_station_outbox` opens the outbox and compares it with its marker
(:mod:`firmware_daemon.airing.outbox_marker`). The outbox is *lost* when:

- it cannot be opened or ``PRAGMA quick_check`` finds it damaged (``outbox-malformed``:
  e.g. truncated, "database disk image is malformed");
- it is absent or empty while the marker says events were recorded (``outbox-missing``);
- its last seq is below the marker's (``outbox-behind``: replaced by an older copy).

Then the damaged file (and its ``-wal``/``-shm``) is moved aside to
``<name>.lost-<UTC time>`` (never deleted: it is evidence), a new outbox is opened
that continues after ``max(marker seq, seq still readable)`` with ``prev`` = the
marker's hash when that is the last seq known, and the caller records a signed
``outbox-reset`` event (:mod:`radio_protocol.messages.outbox_reset`) as its first event.
Sequence numbers are never reused, so the district records no conflicts.

:func:`outbox_problems` is the same inspection, read-only, for ``radio-station check``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from firmware_daemon.airing.outbox import OnFull, Outbox, OutboxError
from firmware_daemon.airing.outbox_marker import marker_path, read_marker
from radio_protocol.clock import Clock
from radio_protocol.durable import fsync_dir
from radio_protocol.jose import Signer

__all__ = ["OutboxLoss", "open_station_outbox", "outbox_problems"]

log = logging.getLogger(__name__)

SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True)
class OutboxLoss:
    """What :func:`open_station_outbox` found and did (the reset event's members)."""

    reason: str
    detail: str
    last_known_seq: int
    found_seq: int | None
    moved_to: str | None
    next_seq: int
    prev: str | None


def _inspect(outbox: Outbox) -> tuple[list[str], int]:
    """quick_check problems and the last seq of an opened outbox."""
    problems = outbox.quick_check()
    return problems, (outbox.last_seq() if not problems else 0)


def _move_aside(path: Path, now_at: datetime) -> str | None:
    """Rename the damaged outbox and its side files; the new name (None if no file)."""
    if not path.exists():
        return None
    stamp = now_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.lost-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.lost-{stamp}-{n}")
    os.replace(path, target)
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    fsync_dir(path.parent)
    return target.name


def open_station_outbox(path: Path, signer: Signer, clock: Clock, *,
                        on_full: OnFull | None = None) -> tuple[Outbox, OutboxLoss | None]:
    """The station's outbox, checked against its marker; a lost one replaced (see the
    module doc). The caller records the ``outbox-reset`` event when a loss is returned.
    Raises OutboxError when even a new outbox cannot be opened."""
    path = Path(path)
    marker = read_marker(marker_path(path))
    existed = path.exists() and path.stat().st_size > 0
    outbox: Outbox | None = None
    reason, detail, found = "", "", None
    try:
        outbox = Outbox(path, signer, clock, on_full=on_full)
        problems, found = _inspect(outbox)
        if problems:
            reason, detail, found = "outbox-malformed", "; ".join(problems[:5]), None
    except (OutboxError, sqlite3.Error) as exc:
        reason, detail = "outbox-malformed", str(exc)
    known = marker.seq if marker is not None else 0
    if not reason and found is not None and found < known:
        reason = "outbox-behind" if existed and found else "outbox-missing"
        detail = f"the outbox's last seq is {found}, the marker's {known}"
    if not reason:
        assert outbox is not None
        return outbox, None
    if outbox is not None:
        outbox.close()
    moved_to = _move_aside(path, clock.now()) if path.exists() else None
    last = max(known, found or 0)
    prev = marker.sha256 if marker is not None and marker.seq == last else None
    loss = OutboxLoss(reason, detail, known, found, moved_to, last + 1, prev)
    log.error("outbox lost reason=%s detail=%s last_known_seq=%d found_seq=%s moved_to=%s "
              "next_seq=%d", reason, detail, known, found, moved_to, last + 1)
    fresh = Outbox(path, signer, clock, on_full=on_full)
    if last:
        fresh.start_chain_at(last + 1, prev)
    return fresh, loss


def outbox_problems(path: Path) -> list[str]:
    """What is wrong with the outbox at ``path``, read-only (``check``); [] when sound or
    absent with no marker (a station that never recorded anything)."""
    path = Path(path)
    marker = read_marker(marker_path(path))
    known = marker.seq if marker is not None else 0
    if not path.exists() or path.stat().st_size == 0:
        return [f"{path}: outbox missing, but its marker says seq {known} was recorded "
                "(run moves the rest aside and continues after it)"] if known else []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
            last = 0 if rows != ["ok"] else int(conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [f"{path}: outbox unreadable: {exc}"]
    if rows != ["ok"]:
        return [f"{path}: outbox damaged: {'; '.join(rows[:5])}"]
    if last < known:
        return [f"{path}: outbox holds seqs up to {last}, but its marker says {known} were recorded "
                "(replaced by an older copy?)"]
    return []
