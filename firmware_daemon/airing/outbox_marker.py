"""The outbox marker: the last seq and payload hash, in a small file beside the outbox.

The outbox rewrites it right after each commit, so it survives when the outbox file
itself is lost, truncated or replaced. It can lag one event behind the outbox (a crash
between the commit and the rewrite), never run ahead of it: an outbox whose last seq is
*below* the marker's lost events (:mod:`firmware_daemon.airing.outbox_recovery`).

Durability at one ``fdatasync`` per event (a rename would cost two more fsyncs per
event): the file has two fixed slots of :data:`SLOT_BYTES` (offsets 0 and 512, one
sector each); each write goes to the slot *not* holding the newest record, as
``<seq> <sha256 or -> <sha256 of those two words>`` padded with spaces, then
``fdatasync``. A torn write spoils only the slot being written; the reader takes the
valid slot with the highest seq. The file is created once (fsync of it and of its
directory).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from radio_protocol.durable import fsync_dir

__all__ = ["MarkerWriter", "OutboxMarker", "marker_path", "read_marker"]

log = logging.getLogger(__name__)

MARKER_SUFFIX = ".last"
SLOT_BYTES = 512
_SLOTS = 2


@dataclass(frozen=True)
class OutboxMarker:
    """The last committed seq and the hex SHA-256 of its payload bytes (None if unknown)."""

    seq: int
    sha256: str | None


def marker_path(outbox_path: Path) -> Path:
    """Where the marker of ``outbox_path`` lives (``outbox.sqlite`` -> ``outbox.last``)."""
    return outbox_path.with_name(outbox_path.stem + MARKER_SUFFIX)


def _encode(marker: OutboxMarker) -> bytes:
    body = f"{marker.seq} {marker.sha256 or '-'}"
    check = hashlib.sha256(body.encode("ascii")).hexdigest()
    return f"{body} {check}\n".encode("ascii").ljust(SLOT_BYTES, b" ")


def _decode(slot: bytes) -> OutboxMarker | None:
    try:
        seq_text, sha, check = slot.decode("ascii").split()
        body = f"{seq_text} {sha}"
        if hashlib.sha256(body.encode("ascii")).hexdigest() != check or int(seq_text) < 0:
            return None
        return OutboxMarker(int(seq_text), None if sha == "-" else sha)
    except (UnicodeDecodeError, ValueError):
        return None


def _read_slots(path: Path) -> list[OutboxMarker | None]:
    data = path.read_bytes()
    return [_decode(data[i * SLOT_BYTES:(i + 1) * SLOT_BYTES]) for i in range(_SLOTS)]


def read_marker(path: Path) -> OutboxMarker | None:
    """The newest valid record in ``path``; None when absent or unreadable (logged: a
    torn or edited marker must not stop the station, it only loses the check)."""
    try:
        slots = _read_slots(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("outbox marker unreadable path=%s error=%s", path, exc)
        return None
    valid = [m for m in slots if m is not None]
    if not valid:
        log.warning("outbox marker holds no valid record path=%s", path)
        return None
    return max(valid, key=lambda m: m.seq)


class MarkerWriter:
    """Writes records to one marker file (kept open). Not thread safe: the outbox calls
    it under its lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._next_slot = 0

    def write(self, marker: OutboxMarker) -> None:
        """Record ``marker`` durably (``fdatasync``). Raises OSError (e.g. disk full)."""
        if self._fd is None:
            self._open()
        assert self._fd is not None
        os.pwrite(self._fd, _encode(marker), self._next_slot * SLOT_BYTES)
        os.fdatasync(self._fd)
        self._next_slot = 1 - self._next_slot

    def _open(self) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SLOT_BYTES * _SLOTS:
                os.ftruncate(fd, SLOT_BYTES * _SLOTS)
            if created:
                os.fsync(fd)
                fsync_dir(self.path.parent)
            slots = _read_slots(self.path)
        except BaseException:
            os.close(fd)
            raise
        seqs = [m.seq if m is not None else -1 for m in slots]
        self._next_slot = 1 if seqs[0] > seqs[1] else 0  # overwrite the older slot
        self._fd = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
