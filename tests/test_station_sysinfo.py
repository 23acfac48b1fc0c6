"""What the kernel tells the events: boot id and whether NTP has synchronized the clock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firmware_daemon.sysinfo import STA_UNSYNC, adjtimex_synced, boot_id, kernel_clock_synced


def test_sysinfo_boot_id_is_the_kernels() -> None:
    value = boot_id()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value)
    assert value == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_sysinfo_boot_id_unreadable_is_unknown(tmp_path: Path) -> None:
    assert boot_id(tmp_path / "missing") == "unknown"


def test_sysinfo_kernel_clock_state_is_a_bool() -> None:
    # TESTBED.md: containers report TIME_ERROR with STA_UNSYNC; a Pi with NTP reports synced.
    assert kernel_clock_synced() in (True, False)


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
