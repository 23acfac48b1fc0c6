"""Free space in ``data_dir``: a reserve so the outbox can always record, and the
``storage_error`` the status reports.

A full disk must not silently cost evidence. :class:`StorageGuard` keeps a reserve file
(``data_dir/reserve.bin``, :data:`RESERVE_BYTES`, written with real blocks and fsynced)
that is released the moment a write finds the disk full (the outbox's ``on_full``, or a
timer of the daemon that failed with a full disk), so the airing's event and the slot
marks can still be committed; it is made again once there is room. :meth:`StorageGuard.look`
(a daemon timer, every :data:`LOOK_EVERY_S`) measures the free space and sets
:attr:`StorageGuard.error`:

- ``disk-full: ...`` while a write failed for lack of space and no room came back;
- ``disk-low: N bytes free in DIR, ...`` while the reserve is not in place (released,
  or no room to make it) or free space is below :data:`MIN_FREE_BYTES`;
- ``outbox-reset: ...`` (set by the daemon after a lost outbox, until the next start).

``radio-station check`` reports a low disk with :func:`free_space_problem`.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["LOOK_EVERY_S", "MIN_FREE_BYTES", "RESERVE_BYTES", "RESERVE_NAME", "StorageGuard",
           "free_space_problem"]

log = logging.getLogger(__name__)

RESERVE_NAME = "reserve.bin"
RESERVE_BYTES = 1024 * 1024
"""Size of the reserve: room for hundreds of events and slot marks (a few KiB each)."""
MIN_FREE_BYTES = 256 * 1024
"""Below this many free bytes in ``data_dir`` (not counting the reserve) the disk is low."""
LOOK_EVERY_S = 30.0
_CHUNK = 64 * 1024


def free_space_problem(data_dir: Path, min_free: int = MIN_FREE_BYTES,
                       reserve_bytes: int = RESERVE_BYTES) -> str | None:
    """``disk-low: ...`` when ``data_dir`` has less than ``min_free`` bytes free, or has no
    reserve file and no room to make one; else None (a missing ``data_dir`` is measured
    at its nearest existing parent)."""
    where = Path(data_dir)
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    reserve = Path(data_dir) / RESERVE_NAME
    reserved = reserve.exists() and reserve.stat().st_size >= reserve_bytes
    if free < min_free:
        return f"disk-low: {free} bytes free in {data_dir} (needs {min_free})"
    if not reserved and free < reserve_bytes + min_free:
        return (f"disk-low: {free} bytes free in {data_dir}, no storage reserve and no room "
                f"for one (needs {reserve_bytes + min_free})")
    return None


class StorageGuard:
    """The reserve file and the storage error of one ``data_dir``. Thread safe.

    ``on_change`` is called (in the caller's thread) when :attr:`error` changes.
    """

    def __init__(self, data_dir: Path, *, reserve_bytes: int = RESERVE_BYTES,
                 min_free: int = MIN_FREE_BYTES, on_change: Callable[[], None] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.reserve_path = self.data_dir / RESERVE_NAME
        self.reserve_bytes = reserve_bytes
        self.min_free = min_free
        self._on_change = on_change or (lambda: None)
        self._lock = threading.Lock()
        self._full: str | None = None
        self._low: str | None = None
        self._note: str | None = None

    @property
    def error(self) -> str | None:
        """What the status reports as ``storage_error`` (None when all is well)."""
        with self._lock:
            parts = [p for p in (self._full, self._low, self._note) if p]
        return "; ".join(parts) or None

    def note(self, text: str | None) -> None:
        """A standing storage fact (e.g. ``outbox-reset: ...``), shown until replaced."""
        self._set(note=text)

    def _set(self, **values: str | None) -> None:
        before = self.error
        with self._lock:
            for name, value in values.items():
                setattr(self, f"_{name}", value)
        if self.error != before:
            self._on_change()

    # --- the reserve -------------------------------------------------------------------

    def reserve_present(self) -> bool:
        try:
            return self.reserve_path.stat().st_size >= self.reserve_bytes
        except FileNotFoundError:
            return False

    def ensure_reserve(self) -> bool:
        """Make the reserve file if it is missing and the disk has room for it with
        ``min_free`` to spare; True when the reserve is in place."""
        if self.reserve_present():
            return True
        if shutil.disk_usage(self.data_dir).free < self.reserve_bytes + self.min_free:
            return False
        tmp = self.reserve_path.with_name(f".{RESERVE_NAME}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                block = b"\0" * _CHUNK
                for _ in range(0, self.reserve_bytes, _CHUNK):  # real blocks, not a sparse file
                    os.write(fd, block)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.reserve_path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("storage reserve not made path=%s error=%s", self.reserve_path, exc)
            return False
        log.info("storage reserve in place path=%s bytes=%d", self.reserve_path, self.reserve_bytes)
        return True

    def release(self) -> bool:
        """Delete the reserve file (the disk is full); True when it freed space."""
        try:
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        log.error("disk full in %s: storage reserve released so evidence can be recorded",
                  self.data_dir)
        return True

    # --- faults and looks --------------------------------------------------------------

    def on_full(self) -> bool:
        """A write found the disk full: note it and release the reserve; True when space
        was freed (worth writing again). The outbox's ``on_full``."""
        self._set(full=f"disk-full: a write in {self.data_dir} failed for lack of space")
        return self.release()

    def look(self) -> str | None:
        """Measure the free space, remake the reserve when there is room, update
        :attr:`error`; the error. The storage is in trouble while the reserve is not in
        place (released, or no room to make it) or the free space is below ``min_free``."""
        reserved = self.ensure_reserve()
        free = shutil.disk_usage(self.data_dir).free
        low = None
        if not reserved:
            low = f"disk-low: {free} bytes free in {self.data_dir}, storage reserve not in place"
        elif free < self.min_free:
            low = f"disk-low: {free} bytes free in {self.data_dir} (storage reserve in place)"
        full = self._full if not reserved else None  # the reserve is back: room came back
        self._set(low=low, full=full)
        if low:
            log.warning("storage %s", low)
        return self.error
