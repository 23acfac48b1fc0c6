"""Smoke test of ``python -m bench.mqtt_paths`` (the MQTT receive paths) at a tiny size.

Runs the module as a user would: a real Mosquitto, the stations' real clients publishing
signed events, each receiver a real process. Every path row must be measured, or say
"not measured: <reason>" with the reason this machine gives (libmosquitto not loadable,
gmqtt not installed); paho and mosquitto_sub are test dependencies, so always measured.
It never checks speed: benchmarks print, they do not fail on a slow machine.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _libmosquitto_loads() -> bool:
    try:
        ctypes.CDLL("libmosquitto.so.1")
    except OSError:
        return False
    return True


@pytest.mark.timeout(300)
def test_every_receive_path_is_measured_or_says_why(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp_path))
    env.pop("BENCH_GMQTT_PYTHON", None)  # gmqtt is not ours: this run must say so
    out = tmp_path / "paths.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.mqtt_paths", "--messages", "40", "--runs", "1",
         "--json", str(out), "--workdir", str(tmp_path / "work")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["messages"] == 40 and result["raw_verify_us"] > 0 and result["ingest_us"] > 0
    assert 900 < result["bytes"] < 2000  # the signed ~1 KB events
    rows = {r["key"]: r for r in result["rows"]}
    assert list(rows) == ["paho5", "paho311", "libmosq-count", "libmosq-queue", "sub-null", "sub-pipe", "gmqtt"]
    libmosq = _libmosquitto_loads()
    for key, row in rows.items():
        if key == "gmqtt":
            assert row["us"] is None and row["note"].startswith("not measured: gmqtt is not installed"), row
        elif key.startswith("libmosq") and not libmosq:
            assert row["us"] is None and "not measured: libmosquitto.so.1 cannot be loaded" in row["note"], row
        else:
            assert row["us"] is not None and row["us"] > 0 and row["note"] == "", row
            assert row["samples"] and min(row["samples"]) == row["us"]
        # the printed table carries every row, measured or not
        assert f"| {row['name']} |" in done.stdout
    assert rows["libmosq-queue"]["puback"].startswith("on receipt")
    assert rows["paho5"]["puback"].startswith("after hand-off")
