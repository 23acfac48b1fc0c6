"""What the kernel says about this boot and its clock (for the evidence in every event).

``boot_id()`` tells events of different boots apart (the Pi has no real-time clock and
boots with the last saved time). ``kernel_clock_synced()`` asks the kernel, through
``adjtimex(2)``, whether NTP has disciplined the clock: an event aired on an
unsynchronized clock is marked so and the district does not count it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from pathlib import Path

log = logging.getLogger(__name__)

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
TIME_ERROR = 5  # adjtimex return value: clock not synchronized
STA_UNSYNC = 0x0040  # timex.status bit: clock not synchronized


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` from <sys/timex.h> (Linux, glibc), with the trailing padding."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def boot_id(path: Path = BOOT_ID_PATH) -> str:
    """The kernel's id of this boot (a UUID string), or ``"unknown"`` if unreadable."""
    try:
        return path.read_text(encoding="ascii").strip() or "unknown"
    except OSError as exc:
        log.warning("cannot read boot id path=%s error=%s", path, exc)
        return "unknown"


def kernel_clock_synced() -> bool:
    """True iff ``adjtimex`` reports a synchronized clock.

    Synchronized means the call does not return ``TIME_ERROR`` and ``STA_UNSYNC`` is
    clear. Any failure to ask (no libc, no syscall) counts as not synchronized.
    """
    try:
        libc_name = ctypes.util.find_library("c") or "libc.so.6"
        libc = ctypes.CDLL(libc_name, use_errno=True)
        timex = _Timex()  # modes = 0: read only
        state = int(libc.adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError) as exc:
        log.warning("cannot query kernel clock state error=%s", exc)
        return False
    if state < 0:
        log.warning("adjtimex failed errno=%d", ctypes.get_errno())
        return False
    return adjtimex_synced(state, timex.status)


def adjtimex_synced(state: int, status: int) -> bool:
    """The rule on ``adjtimex``'s answer: not ``TIME_ERROR`` and ``STA_UNSYNC`` clear."""
    return state >= 0 and state != TIME_ERROR and not (status & STA_UNSYNC)
