"""``make demo`` end to end: a shortened simulated month, and Ctrl-C / SIGTERM cleanup.

These run the real demo (Mosquitto, the collector, station daemons on simulated clocks,
report, evidence, verify) as a subprocess, then look in /proc for anything it left.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def demo_argv(out: Path, days: int, stations: int) -> list[str]:
    return [sys.executable, "-m", "demo.run", "--days", str(days), "--stations", str(stations),
            "--fast", "--no-web", "--out", str(out)]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (the demo's out dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = next((line for line in (entry / "status").read_text().splitlines()
                          if line.startswith("State:")), "")
        except OSError:
            continue
        if text in cmdline and "zombie" not in state:
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.mark.timeout(120)
def test_demo_short_month_runs_end_to_end_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(demo_argv(out, days=8, stations=3), cwd=REPO, capture_output=True,
                          text=True, timeout=110, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "radio-district verify: VERIFIED" in text and "NOT VERIFIED" not in text
    assert "Commune" in text and "Xã Đăk Kôi" in text and "Thị trấn Đăk Rve" in text  # the table
    assert "missed (station-down)" in text  # the switched-off station's fault shows
    assert "delivered on reconnect" in text  # the link-down station caught up
    assert processes_mentioning(str(out)) == []
    # the bundle holds one signed event per slot of the 8 days
    events = (out / "evidence" / "events.jsonl").read_text().splitlines()
    report = json.loads((out / "evidence" / "report.json").read_text())
    assert len(events) == sum(c["airings"] + c["excluded"] for c in report["communes"])
    assert [c["name"] for c in report["communes"]] == ["Thị trấn Đăk Rve", "Xã Đăk Kôi", "Xã Đăk Pne"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_signal_mid_run_stops_every_process(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(demo_argv(out, days=31, stations=2), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            if line.startswith("[4/6]"):
                break
        assert seen and seen[-1].startswith("[4/6]"), "".join(seen)
        time.sleep(1.0)  # stations running
        assert processes_mentioning(f"{out}/stations"), "no station process to stop"
        proc.send_signal(sig)
        assert proc.wait(timeout=40) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert processes_mentioning(str(out)) == []
