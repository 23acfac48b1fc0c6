"""The outbox marker: the last seq and payload hash, in a small file beside the outbox.

The outbox rewrites it right after each commit (temp file, fsync, rename, fsync of the
directory: :func:`radio_protocol.durable.atomic_write`), so it survives when the outbox
file itself is lost, truncated or replaced. It can lag one event behind the outbox (a
crash between the commit and the rewrite), never run ahead of it: an outbox whose last
seq is *below* the marker's lost events
(:mod:`firmware_daemon.airing.outbox_recovery`).

Format: one JSON object ``{"seq": 42, "sha256": "<hex of seq 42's payload bytes>"}``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from radio_protocol.durable import atomic_write

__all__ = ["OutboxMarker", "marker_path", "read_marker", "write_marker"]

log = logging.getLogger(__name__)

MARKER_SUFFIX = ".last.json"


@dataclass(frozen=True)
class OutboxMarker:
    """The last committed seq and the hex SHA-256 of its payload bytes (None if unknown)."""

    seq: int
    sha256: str | None


def marker_path(outbox_path: Path) -> Path:
    """Where the marker of ``outbox_path`` lives (``outbox.sqlite`` -> ``outbox.last.json``)."""
    return outbox_path.with_name(outbox_path.stem + MARKER_SUFFIX)


def read_marker(path: Path) -> OutboxMarker | None:
    """The marker in ``path``; None when absent or unreadable (logged: a torn or edited
    marker must not stop the station, it only loses the lost-outbox check)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("outbox marker unreadable path=%s error=%s", path, exc)
        return None
    seq, sha = (data.get("seq"), data.get("sha256")) if isinstance(data, dict) else (None, None)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not (sha is None or isinstance(sha, str)):
        log.warning("outbox marker malformed path=%s", path)
        return None
    return OutboxMarker(seq, sha)


def write_marker(path: Path, marker: OutboxMarker) -> None:
    """Replace the marker durably. Raises OSError (e.g. disk full)."""
    body = json.dumps({"seq": marker.seq, "sha256": marker.sha256}, separators=(",", ":"))
    atomic_write(path, body.encode("utf-8"), mode=0o600)
