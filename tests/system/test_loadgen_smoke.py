"""Smoke test of the province simulator (bench/loadgen) at a tiny size.

Runs ``python -m bench.loadgen`` as a user would: real Mosquitto, the real collector, 20
stations as real MQTT clients with their own keys, a steady phase, an outage and a
reconnect storm. The simulator checks the store against what the stations sent; this test
asserts that check and the figures it prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_loadgen_storm_loses_and_doubles_nothing(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out_json = tmp_path / "outcome.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--stations", "20", "--backlog", "3", "--window", "2",
         "--rate", "200", "--timeout", "120", "--workdir", str(tmp_path / "work"), "--json", str(out_json)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcome = json.loads(out_json.read_text())
    assert outcome["sent"] == 20 * (1 + 3)
    assert outcome["stored"] == outcome["sent"]
    assert (outcome["lost"], outcome["doubled"], outcome["foreign"], outcome["bad_acks"]) == (0, 0, 0, 0)
    assert outcome["timed_out"] == []
    assert outcome["storm_all_acked_s"] is not None and outcome["latency_p99_ms"] is not None
    assert "lost=0 doubled=0" in proc.stdout
