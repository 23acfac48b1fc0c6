"""Smoke test of the benchmark harness: the cheapest figures in --quick mode.

Runs ``python -m bench.run --quick --only report,playback`` as ``make bench`` would (a
subprocess, real CLI, real PortAudio via the ALSA file device) and checks that
results.json holds measured figures with their baselines. It never checks speed:
benchmarks print, they do not fail on a slow machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_quick_writes_report_and_playback_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--only", "report,playback",
         "--out", str(out), "--workdir", str(tmp_path / "work")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=110,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    figures = {f["name"]: f for f in results["figures"]}
    assert results["mode"] == "quick"
    assert {f["bench"] for f in figures.values()} == {"report", "playback"}
    unmeasured = [f"{f['name']}: {f['note']}" for f in figures.values() if f["value"] is None]
    assert not unmeasured, unmeasured
    report = [f for f in figures.values() if f["name"].startswith("report --format json")]
    assert report and all(f["value"] > 0 and f["baseline"] > 0 and f["ratio"] > 0 for f in report)
    cpu = [f for f in figures.values() if f["name"].startswith("CPU s per audio minute")]
    assert {f["name"].split(",")[1].strip() for f in cpu} == {"WAV", "MP3"}
    assert all(f["baseline_name"] in ("aplay", "mpg123") and f["baseline"] > 0 for f in cpu)
    rss = next(f for f in figures.values() if f["name"].startswith("daemon peak RSS"))
    assert rss["value"] > 10 and rss["baseline"] > 10 and "completed" in rss["note"]
    # the printed table is the one stored
    assert results["table"] in done.stdout
    assert "| figure | value | unit | target | baseline | ratio |" in done.stdout
