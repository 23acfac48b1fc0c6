"""Figure: several collector workers (``run --worker-group``) on one broker: events/s
ingested by 2 workers against 1 worker, the same events (target: >= 1.6x on 2 cores).

Set-up as :mod:`bench.ingest`: a real Mosquitto, real ``radio-district run`` processes,
stations' signed chained events, an observer timestamping acks. One run per worker count,
each with a fresh store (a fresh database on a throwaway PostgreSQL, durable commits; a
fresh SQLite file when PostgreSQL is not installed: the SAME events are stored again) and
its own group name; the workers are frozen (SIGSTOP) while the stations publish everything
(the broker spreads it over the group's sessions), resumed together (SIGCONT), and the
clock runs until the observer has seen acks covering every event. Between runs the
previous group's sessions are removed (a clean-start login under each worker's client
id), so the broker does not queue the next run's events for a stopped group.

On SQLite the workers verify in parallel but commit one at a time (one write lock per
database): that is why the figure is taken on PostgreSQL, a province's store. The broker, the
observer and the stations share the same two cores, so on this machine the figure is
a floor, not a ceiling.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from bench import pgserver
from bench.common import PYTHON, Figure, bench_env, stop_process
from bench.district import DISTRICT, District, make_district
from bench.ingest import AckWatch, _publish_all, _started_at

TARGET_RATIO = 1.6


class _FreshAcks(AckWatch):
    """An AckWatch that ignores retained acks (those of an earlier run's store)."""

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        if not msg.retain:
            super().on_message(msg)


def _config_for(district: District, name: str, database: str | None) -> Path:
    """A copy of the district config with its own store: ``database`` (a PostgreSQL
    URL), else the SQLite file ``<name>.sqlite3``."""
    cfg = yaml.safe_load(district.config_path.read_text(encoding="utf-8"))
    cfg["database"] = database or str(district.root / f"{name}.sqlite3")
    path = district.root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _workers(district: District, config: Path, group: str, count: int) -> list[subprocess.Popen[bytes]]:
    log = (district.root / f"{group}.log").open("ab")
    return [subprocess.Popen([PYTHON, "-m", "district_collector.cli", "-c", str(config), "run",
                              "--worker-group", group, "--worker-id", f"b{i}"],
                             env=bench_env(), stdout=log, stderr=log) for i in range(count)]


def _forget_sessions(district: District, group: str, count: int) -> None:
    """Remove the group's persistent sessions (clean start, no expiry, then leave)."""
    password = (district.broker_dir / "credentials" / "collector.password").read_text().strip()
    for i in range(count):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"collector-{DISTRICT}-{group}-b{i}",
                        protocol=mqtt.MQTTv5)
        c.username_pw_set("collector", password)
        done = threading.Event()
        c.on_connect = lambda *_a, done=done: done.set()
        c.connect("127.0.0.1", district.collector_port, clean_start=True)
        c.loop_start()
        done.wait(10)
        c.disconnect()
        c.loop_stop()


def _one_run(district: District, chains: dict[str, list[bytes]], per_station: int, count: int,
             log: Any, database: str | None) -> float:
    """Events/s (wall) for ``count`` workers draining every station's events 2..per_station+1."""
    group = f"n{count}"
    watch = _FreshAcks()
    district.observer([f"cr/v1/{DISTRICT}/station/+/ack"], watch.on_message)
    workers = _workers(district, _config_for(district, group, database), group, count)
    try:
        sids = list(chains)
        warm = {sid: [(1, chains[sid][0])] for sid in sids}
        for _attempt in range(120):  # every worker subscribed: seq 1 of every station acked
            _publish_all(district, warm)
            if watch.wait({sid: 1 for sid in sids}, 0.5) is not None:
                break
        else:
            raise RuntimeError(f"{count} worker(s) did not ack the warm-up: see {group}.log")
        batch = {sid: [(s, chains[sid][s - 1]) for s in range(2, per_station + 2)] for sid in sids}
        for w in workers:
            os.kill(w.pid, signal.SIGSTOP)
        try:
            _publish_all(district, batch)
        finally:
            begin = time.monotonic()
            for w in workers:
                os.kill(w.pid, signal.SIGCONT)
        done = watch.wait({sid: per_station + 1 for sid in sids}, 300)
        if done is None:
            raise RuntimeError(f"{count} worker(s) did not ack every event in 300 s: see {group}.log")
        rate = len(sids) * per_station / (done - begin)
        log(f"  workers: {count} worker(s) {rate:.0f} ev/s")
        return rate
    finally:
        for w in workers:
            if w.poll() is None:
                os.kill(w.pid, signal.SIGCONT)
            stop_process(w)
        _forget_sessions(district, group, count)


def run(ctx: Any) -> list[Figure]:
    stations = 2 if ctx.quick else 10
    per_station = 250 if ctx.quick else 1500
    district = make_district(ctx.workdir / f"workers-{time.time_ns()}", stations, with_broker=True)
    district.start_broker()
    pg = pgserver.PgBench() if pgserver.available() else None
    try:
        chains = {sid: district.stations[sid].chain(per_station + 1, _started_at) for sid in district.stations}
        one = _one_run(district, chains, per_station, 1, ctx.log, pg.database() if pg else None)
        two = _one_run(district, chains, per_station, 2, ctx.log, pg.database() if pg else None)
    finally:
        district.close()
        if pg is not None:
            pg.stop()
    store = "PostgreSQL store" if pg else "SQLite store (PostgreSQL not installed)"
    note = (f"{stations} stations x {per_station} events, queued then drained; {store}; "
            f"{os.cpu_count()} cores shared with the broker and the stations; "
            f"load average {os.getloadavg()[0]:.1f} at the end (above {os.cpu_count()}: other work took the cores)")
    return [Figure("workers", "2 workers vs 1 worker, ingest events/s (same events)", "ev/s", two,
                   better="higher", baseline=one, baseline_name="1 worker, same broker and events",
                   ratio_target=TARGET_RATIO, note=note)]
