"""The province simulator: a real broker, the real collector, N stations in driver processes.

:func:`simulate` builds a district of N stations (keys, registry, broker credentials and
ACL written by the same code as ``radio-district broker-config``), starts Mosquitto and
``radio-district run`` (``--worker-group`` with several workers), and runs the scenario of
:mod:`bench.loadgen.driver` over D driver processes:

1. every station connects; 2. steady traffic at a set rate (latency signed -> covered by a
verified ack); 3. a regional outage: all stations drop and each builds a backlog;
4. the reconnect storm: all come back within a window and send their backlogs.

Then it checks the store against what the drivers SENT (not against the collector's own
counters): every sent (station, seq, payload hash) must be stored once, and nothing else
may be stored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.common import PYTHON, bench_env, percentile, proc_cpu_s, stop_process
from bench.district import District, make_district
from district_collector.config import load_district_config
from district_collector.store.opening import open_store


@dataclass
class Scenario:
    stations: int = 1000
    steady: int = 1  # events per station in the steady phase
    rate: float = 2000.0  # steady events/s, all drivers together
    backlog: int = 30  # events per station built during the outage
    window_s: float = 60.0  # the reconnect storm's spread
    drivers: int = 1
    workers: int = 1
    timeout_s: float = 900.0
    republish_s: float = 60.0  # the station default (mqtt.republish_s)


@dataclass
class Outcome:
    """What a run measured (times in seconds, rates per second)."""

    scenario: Scenario
    steady_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    storm_rate: float | None = None
    storm_all_acked_s: float | None = None
    collector_cpu_s_per_1000: float | None = None
    store_bytes_per_million: float | None = None
    sent: int = 0
    stored: int = 0
    lost: int = 0
    doubled: int = 0
    foreign: int = 0
    republished: int = 0
    bad_acks: int = 0
    timed_out: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        s = self.scenario
        return [
            f"stations={s.stations} drivers={s.drivers} workers={s.workers} steady={s.steady} "
            f"backlog={s.backlog} window={s.window_s:.0f}s",
            f"steady: {_n(self.steady_rate)} events/s acked, latency p50 {_n(self.latency_p50_ms)} ms "
            f"p99 {_n(self.latency_p99_ms)} ms (signed -> covered by a verified ack)",
            f"storm: {_n(self.storm_rate)} events/s acked, every backlog acked after "
            f"{_n(self.storm_all_acked_s)} s (target <= 300 s)",
            f"collector CPU: {_n(self.collector_cpu_s_per_1000)} s per 1,000 events; store: "
            f"{_n(self.store_bytes_per_million / 1e6 if self.store_bytes_per_million else None)} MB "
            "per million events",
            f"checked against what was sent: sent={self.sent} stored={self.stored} lost={self.lost} "
            f"doubled={self.doubled} not-sent={self.foreign} republished={self.republished} "
            f"bad-acks={self.bad_acks}" + (f" TIMED OUT: {', '.join(self.timed_out)}" if self.timed_out else ""),
        ]


def _n(value: float | None) -> str:
    return "-" if value is None else (f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}")


class _Driver:
    def __init__(self, index: int, spec: dict[str, Any], root: Path) -> None:
        path = root / f"driver-{index}.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        self.log = (root / f"driver-{index}.log").open("ab")
        self.proc = subprocess.Popen([PYTHON, "-m", "bench.loadgen.driver", str(path)], env=bench_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)

    def send(self, line: str) -> None:
        stdin: IO[str] | None = self.proc.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def answer(self) -> str:
        stdout: IO[str] | None = self.proc.stdout
        assert stdout is not None
        return stdout.readline().strip() or f"exited ({self.proc.poll()})"


def _all(drivers: list[_Driver], line: str, phase: str, timed_out: list[str]) -> None:
    for d in drivers:
        d.send(line)
    answers = [d.answer() for d in drivers]
    if any(a in ("timeout",) or a.startswith("exited") for a in answers):
        timed_out.append(f"{phase} ({', '.join(sorted(set(answers)))})")


def _collectors(district: District, workers: int) -> list[subprocess.Popen[bytes]]:
    log = (district.root / "collector.log").open("ab")
    argv = [PYTHON, "-m", "district_collector.cli", "-c", str(district.config_path), "run"]
    if workers > 1:
        argv += ["--worker-group", "loadgen"]
    return [subprocess.Popen(argv, env=bench_env(), stdout=log, stderr=log) for _ in range(workers)]


def _wait_subscribed(log_path: Path, workers: int, timeout_s: float) -> None:
    """Until every collector worker logged its subscription (granted by the broker):
    QoS 1 events published before the collector's first subscription reach nobody (a real
    station sends them again ``republish_s`` later, which would count as latency here)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        if text.count("mqtt subscribed") >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the collector did not connect within {timeout_s:.0f} s: see {log_path}")


def _store_check(district: District, results: list[dict[str, Any]], out: Outcome) -> None:
    sent: set[tuple[str, int, str]] = set()
    for r in results:
        for sid, st in r["stations"].items():
            sent.update((sid, e[0], e[1]) for e in st["events"])
    config = load_district_config(district.config_path)
    seen: dict[tuple[str, int, str], int] = {}
    with open_store(config, read_only=True) as store:
        for ev in store.iter_events():
            key = (ev.station, ev.seq, ev.payload_sha256)
            seen[key] = seen.get(key, 0) + 1
    out.sent, out.stored = len(sent), sum(seen.values())
    out.lost = len(sent - seen.keys())
    out.doubled = sum(n - 1 for n in seen.values() if n > 1)
    out.foreign = len(seen.keys() - sent)


def _store_bytes(district: District) -> int:
    db = load_district_config(district.config_path).database
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def simulate(root: Path, sc: Scenario, log: Any = print) -> Outcome:
    """Run the scenario in ``root`` (keys kept between runs); the measured outcome."""
    out = Outcome(sc)
    log(f"loadgen: building a district of {sc.stations} stations in {root}")
    district = make_district(root, sc.stations, with_broker=True)
    for old in [*root.glob("collector.sqlite3*"), root / "collector.log"]:
        old.unlink(missing_ok=True)
    # a fresh broker too: an earlier run's persisted sessions (and their queued messages)
    # would be delivered into this one and slow the broker's start
    shutil.rmtree(root / "broker" / "data", ignore_errors=True)
    (root / "broker" / "data").mkdir(mode=0o700)
    district.start_broker()
    collectors = _collectors(district, sc.workers)
    drivers: list[_Driver] = []
    try:
        ids = list(district.stations)
        for i in range(sc.drivers):
            part = ids[i::sc.drivers]
            spec = {"host": "127.0.0.1", "port": district.port, "district": "kon-ray",
                    "district_jwk": district.district_jwk, "timeout_s": sc.timeout_s,
                    "republish_s": sc.republish_s,
                    "stations": [{"id": s, "commune": district.stations[s].commune,
                                  "key": str(district.stations[s].key_path),
                                  "password_file": str(district.stations[s].password_file)} for s in part]}
            drivers.append(_Driver(i, spec, root))
        _wait_subscribed(district.root / "collector.log", len(collectors), sc.timeout_s)
        log("loadgen: connecting")
        _all(drivers, "connect", "connect", out.timed_out)
        cpu0 = sum(proc_cpu_s(p.pid) for p in collectors)
        t0 = time.time()
        log(f"loadgen: steady phase, {sc.steady} event(s) per station at {sc.rate:.0f}/s")
        _all(drivers, f"steady {sc.steady} {sc.rate / sc.drivers}", "steady", out.timed_out)
        steady_s = time.time() - t0
        _all(drivers, f"outage {sc.backlog}", "outage", out.timed_out)
        storm_t0 = time.time() + 1.0
        log(f"loadgen: reconnect storm, {sc.backlog} events per station over {sc.window_s:.0f} s")
        _all(drivers, f"storm {storm_t0} {sc.window_s}", "storm", out.timed_out)
        cpu1 = sum(proc_cpu_s(p.pid) for p in collectors)
        results: list[dict[str, Any]] = []
        for i, d in enumerate(drivers):
            path = root / f"driver-{i}.result.json"
            d.send(f"finish {path}")
            d.answer()
            results.append(json.loads(path.read_text(encoding="utf-8")))
    finally:
        for d in drivers:
            stop_process(d.proc)
        for p in collectors:
            stop_process(p)
        district.close()
    _measure(results, sc, out, steady_s, storm_t0, cpu1 - cpu0)
    _store_check(district, results, out)
    if out.stored:
        out.store_bytes_per_million = _store_bytes(district) / out.stored * 1e6
    return out


def _measure(results: list[dict[str, Any]], sc: Scenario, out: Outcome, steady_s: float,
             storm_t0: float, cpu_s: float) -> None:
    steady: list[float] = []
    storm_acked: list[float] = []
    for r in results:
        out.bad_acks += sum(st["bad_acks"] for st in r["stations"].values())
        out.republished += sum(st["republished"] for st in r["stations"].values())
        for st in r["stations"].values():
            for _seq, _sha, phase, signed_at, acked_at in st["events"]:
                if acked_at is None:
                    continue
                if phase == "steady":
                    steady.append((acked_at - signed_at) * 1000.0)
                else:
                    storm_acked.append(acked_at)
    if steady:
        out.latency_p50_ms = percentile(steady, 50)
        out.latency_p99_ms = percentile(steady, 99)
        out.steady_rate = len(steady) / steady_s if steady_s > 0 else None
    total_storm = sc.stations * sc.backlog
    if storm_acked and len(storm_acked) == total_storm:
        out.storm_all_acked_s = max(storm_acked) - storm_t0
        out.storm_rate = total_storm / out.storm_all_acked_s
    events = len(steady) + len(storm_acked)
    if events:
        out.collector_cpu_s_per_1000 = cpu_s / events * 1000.0
