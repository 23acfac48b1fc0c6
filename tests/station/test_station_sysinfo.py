"""What the kernel tells the events: boot id and whether NTP has synchronized the clock."""

from __future__ import annotations

import ctypes
import re
import sys
from pathlib import Path

import pytest

from firmware_daemon.service.sysinfo import (
    STA_UNSYNC,
    _Timex,
    adjtimex_synced,
    boot_id,
    kernel_clock_synced,
)


def test_sysinfo_boot_id_is_the_kernels() -> None:
    value = boot_id()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value)
    assert value == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_sysinfo_boot_id_unreadable_is_unknown(tmp_path: Path) -> None:
    assert boot_id(tmp_path / "missing") == "unknown"


def _adjtimex_raw() -> tuple[int, int]:
    """adjtimex(2) read independently of sysinfo's struct: a zeroed buffer (modes 0 = read
    only) and ``status`` at its ABI offset, after four longs and the int-padded ``modes``."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(1024)
    state = int(libc.adjtimex(buf))
    offset = 5 * ctypes.sizeof(ctypes.c_long)
    return state, int.from_bytes(buf.raw[offset:offset + 4], sys.byteorder, signed=True)


def test_sysinfo_kernel_clock_synced_agrees_with_raw_adjtimex() -> None:
    # docs/TESTING.md: containers report TIME_ERROR with STA_UNSYNC; a Pi with NTP reports synced.
    state, status = _adjtimex_raw()
    expected = state >= 0 and state != 5 and not status & 0x0040
    assert kernel_clock_synced() is expected
    assert ctypes.sizeof(_Timex) >= 208 or ctypes.sizeof(ctypes.c_long) == 4  # glibc's size


@pytest.mark.parametrize(("state", "status", "synced"), [
    (0, 0, True),               # TIME_OK
    (1, 0, True),               # TIME_INS (leap second pending) is still synchronized
    (5, 0, False),              # TIME_ERROR
    (0, STA_UNSYNC, False),     # ok state but the unsync flag set
    (5, STA_UNSYNC | 0x1, False),
    (-1, 0, False),             # the call failed
])
def test_sysinfo_adjtimex_rule(state: int, status: int, synced: bool) -> None:
    assert adjtimex_synced(state, status) is synced
