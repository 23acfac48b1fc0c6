"""``python -m bench.loadgen``: the province simulator (see bench/loadgen/province.py).

    python -m bench.loadgen --stations 10000 --backlog 30 --window 60     # the province's worst day
    python -m bench.loadgen --stations 200 --backlog 5 --window 5          # a quick look

Prints events/s acked, latency p50/p99 (signed -> covered by a verified ack), the time until
every backlog is acked, collector CPU per 1,000 events, store size per million events, and
whether anything was lost or doubled, checked against what the stations sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.loadgen.province import Scenario, simulate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stations", type=int, default=1000)
    p.add_argument("--steady", type=int, default=1, help="events per station in the steady phase")
    p.add_argument("--rate", type=float, default=2000.0, help="steady events/s, all stations together")
    p.add_argument("--backlog", type=int, default=30, help="events per station built during the outage")
    p.add_argument("--window", type=float, default=60.0, help="the reconnect storm's spread, seconds")
    p.add_argument("--drivers", type=int, default=1, help="processes driving the stations")
    p.add_argument("--workers", type=int, default=1, help="collector workers (--worker-group when > 1)")
    p.add_argument("--timeout", type=float, default=900.0, help="per phase, seconds")
    p.add_argument("--workdir", default=None, help="keys and stores kept here between runs")
    p.add_argument("--json", default=None, help="also write the outcome as JSON to this file")
    a = p.parse_args(argv)
    root = Path(a.workdir or Path(tempfile.gettempdir()) / f"commune-radio-loadgen-{a.stations}")
    sc = Scenario(stations=a.stations, steady=a.steady, rate=a.rate, backlog=a.backlog,
                  window_s=a.window, drivers=a.drivers, workers=a.workers, timeout_s=a.timeout)
    out = simulate(root, sc, log=lambda m: print(m, file=sys.stderr, flush=True))
    for line in out.lines():
        print(line)
    if a.json:
        Path(a.json).write_text(json.dumps(asdict(out), indent=2), encoding="utf-8")
    return 0 if not (out.lost or out.doubled or out.foreign or out.timed_out) else 1


if __name__ == "__main__":
    raise SystemExit(main())
