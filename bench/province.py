"""Figure: the province's worst day (bench/loadgen): a reconnect storm after a regional outage.

N stations (real MQTT clients, own keys and credentials) each come back with a backlog of
30 events within 60 s; the figure is the time until every backlog is covered by a verified
ack (target 300 s for 10,000 stations), beside the steady latency and the loss check made
against what the stations sent. ``--quick``: 200 stations x 5 events; default 2,000 x 30;
``--full``: 10,000 x 30 (about 10 minutes on 2 cores).
"""

from __future__ import annotations

from typing import Any

from bench.common import Figure
from bench.loadgen.province import Scenario, simulate


def run(ctx: Any) -> list[Figure]:
    if ctx.quick:
        sc = Scenario(stations=200, backlog=5, window_s=5.0)
    elif ctx.full:
        sc = Scenario(stations=10_000, backlog=30, window_s=60.0, drivers=2)
    else:
        sc = Scenario(stations=2_000, backlog=30, window_s=60.0)
    out = simulate(ctx.workdir / f"province-{sc.stations}", sc, log=ctx.log)
    for line in out.lines():
        ctx.log("  " + line)
    size = f"{sc.stations} stations x {sc.backlog} events within {sc.window_s:.0f} s"
    return [
        Figure("province", "reconnect storm: every backlog acked", "s", out.storm_all_acked_s,
               target=300.0, note=size + (f"; timed out: {out.timed_out}" if out.timed_out else "")),
        Figure("province", "reconnect storm: events acked per second", "events/s", out.storm_rate,
               better="higher", note=size),
        Figure("province", "steady latency p99 (signed -> verified ack)", "ms", out.latency_p99_ms,
               note=f"p50 {out.latency_p50_ms or 0:.0f} ms at {sc.rate:.0f} events/s"),
        Figure("province", "events lost or doubled (vs what was sent)", "events",
               float(out.lost + out.doubled + out.foreign), target=0.0,
               note=f"sent {out.sent}, stored {out.stored}, republished {out.republished}"),
        Figure("province", "collector CPU per 1,000 events", "s", out.collector_cpu_s_per_1000),
        Figure("province", "store size per million events", "MB",
               out.store_bytes_per_million / 1e6 if out.store_bytes_per_million else None),
    ]
