"""Figure 3: collector ingest over the real broker, and end-to-end latency.

Set-up: a real Mosquitto (config from ``broker_config``), the real ``radio-district run``
in its own process, N simulated stations (paho clients with their own credentials and
keys) and a read-only observer that timestamps every ack.

Throughput: the collector is frozen (SIGSTOP) while the stations publish M signed,
chained events (QoS 1); the broker queues them. It is resumed (SIGCONT) and the clock
runs until the observer has seen acks covering every event: events verified, committed
and acked per wall second, and per CPU second of the collector process ("one core").
Baselines in the same run: (a) ``mosquitto_sub`` frozen and resumed the same way,
receiving the same messages into a file; (b) Ed25519 verification alone
(``cryptography``, one core) over the same events; our full ``jose.verify`` is shown too.

Latency at light load: one station publishes an event every 50 ms; latency is publish ->
the first ack covering it (the collector acks only after the commit, so this is an upper
bound of "recorded -> committed"). The collector commits whatever is queued at once
(group commit, ``ack.max_batch`` at most) and then acks.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from bench.common import PYTHON, Figure, bench_env, median, percentile, proc_cpu_s, stop_process
from bench.district import DISTRICT, OBSERVER, District, make_district
from radio_protocol.names import EVENT_TYP

TARGET_RATE = 5000.0
TARGET_VERIFY_SHARE = 0.75
TARGET_P99_MS = 100.0


def _started_at(seq: int) -> str:
    return f"2025-03-{1 + (seq // 1440) % 28:02d}T{(seq // 60) % 24:02d}:{seq % 60:02d}:00.012+07:00"


class AckWatch:
    """The observer's view: the latest ``through`` per station, and when each rose."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.through: dict[str, int] = {}
        self.first_cover: dict[tuple[str, int], float] = {}
        self.changed = threading.Event()

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        arrival = time.monotonic()
        try:
            body = json.loads(msg.payload)["payload"]
            p = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, KeyError):
            return
        station, through = str(p["station"]), int(p["through"])
        with self.lock:
            old = self.through.get(station, 0)
            if through > old:
                self.through[station] = through
                for seq in range(old + 1, through + 1):
                    self.first_cover[(station, seq)] = arrival
        self.changed.set()

    def covered(self, want: dict[str, int]) -> bool:
        with self.lock:
            return all(self.through.get(s, 0) >= n for s, n in want.items())

    def wait(self, want: dict[str, int], timeout_s: float) -> float | None:
        """Monotonic time when every station's ``through`` reached ``want``, or None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.covered(want):
                with self.lock:
                    return max(self.first_cover[(s, n)] for s, n in want.items())
            self.changed.wait(0.05)
            self.changed.clear()
        return None


def _publish_all(district: District, batches: dict[str, list[tuple[int, bytes]]]) -> None:
    """Each station publishes its events (QoS 1) from its own client; waits for PUBACKs."""
    infos = []
    for sid, events in batches.items():
        c = district.client(sid, district.station_password(sid), client_id=sid)
        for _seq, jws in events:
            infos.append(c.publish(f"cr/v1/{DISTRICT}/station/{sid}/event", jws, qos=1))
    for info in infos[-len(batches) * 2:]:
        info.wait_for_publish(60)
    for info in infos:
        info.wait_for_publish(60)


def _collector(district: District) -> subprocess.Popen[bytes]:
    log = (district.root / "collector.log").open("ab")
    return subprocess.Popen([PYTHON, "-m", "district_collector.cli", "-c", str(district.config_path), "run"],
                            env=bench_env(), stdout=log, stderr=log)


def _wait_idle(pid: int, timeout_s: float = 60.0) -> None:
    """Until the process used under 2% of a core over half a second."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = proc_cpu_s(pid)
        time.sleep(0.5)
        if proc_cpu_s(pid) - before < 0.01:
            return


def _verify_rates(events: list[bytes], district: District) -> tuple[float, float]:
    """(raw Ed25519 verifies/s, our jose.verify/s), one core, same events."""
    from radio_protocol.jose import KeyRing, b64url_decode, jwk_to_public_key, verify

    keys = {st.signer.kid: jwk_to_public_key(st.jwk) for st in district.stations.values()}
    prepared = []
    for raw in events:
        j = json.loads(raw)
        kid = json.loads(b64url_decode(j["protected"]))["kid"]
        prepared.append((keys[kid], b64url_decode(j["signature"]),
                         f"{j['protected']}.{j['payload']}".encode("ascii")))
    begin = time.process_time()
    for key, sig, data in prepared:
        key.verify(sig, data)
    raw_rate = len(prepared) / (time.process_time() - begin)
    ring = KeyRing.from_jwks([st.jwk for st in district.stations.values()])
    begin = time.process_time()
    for raw in events:
        verify(raw, ring, EVENT_TYP)
    jose_rate = len(events) / (time.process_time() - begin)
    return raw_rate, jose_rate


def _mosquitto_sub_rate(district: District, batches: dict[str, list[tuple[int, bytes]]],
                        out: Path) -> float | None:
    total = sum(len(v) for v in batches.values())
    warm = next(iter(batches))
    argv = ["mosquitto_sub", "-p", str(district.collector_port), "-u", OBSERVER, "-P", district.observer_password,
            "-q", "1", "-V", "mqttv5", "-t", f"cr/v1/{DISTRICT}/station/+/event", "-C", str(total + 1)]
    with out.open("wb") as fh:
        sub = subprocess.Popen(argv, stdout=fh, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # subscribed (no handshake to wait on); then one warm-up message
        warm_client = district.client(warm, district.station_password(warm), client_id=warm)
        warm_client.publish(f"cr/v1/{DISTRICT}/station/{warm}/event", b"{}", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while out.stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(sub.pid, signal.SIGSTOP)
        _publish_all(district, batches)
        begin = time.monotonic()
        os.kill(sub.pid, signal.SIGCONT)
        sub.wait(120)
        return total / (time.monotonic() - begin)
    except subprocess.TimeoutExpired:
        return None
    finally:
        os.kill(sub.pid, signal.SIGCONT) if sub.poll() is None else None
        stop_process(sub)


def run(ctx: Any) -> list[Figure]:
    stations = 2 if ctx.quick else 10
    per_station = 250 if ctx.quick else 2000
    runs = 1 if ctx.quick else 3
    light = 20 if ctx.quick else 200
    district = make_district(ctx.workdir / f"ingest-{time.time_ns()}", stations, with_broker=True)
    figures: list[Figure] = []
    district.start_broker()
    watch = AckWatch()
    collector: subprocess.Popen[bytes] | None = None
    try:
        district.observer([f"cr/v1/{DISTRICT}/station/+/ack"], watch.on_message)
        sids = list(district.stations)
        total_per_run = stations * per_station
        chains = {sid: district.stations[sid].chain(1 + per_station * runs + light, _started_at) for sid in sids}
        collector = _collector(district)
        # warm-up: seq 1 of every station, acked (collector connected and subscribed)
        # (re-sent until acked: what is published before the collector subscribed is lost)
        warm = {sid: [(1, chains[sid][0])] for sid in sids}
        for _attempt in range(60):
            _publish_all(district, warm)
            if watch.wait({sid: 1 for sid in sids}, 0.5) is not None:
                break
        else:
            raise RuntimeError("collector did not ack the warm-up events: see collector.log")
        rates: list[float] = []
        cpu_rates: list[float] = []
        sub_rates: list[float] = []
        batches: list[dict[str, list[tuple[int, bytes]]]] = []
        next_seq = 2
        for r in range(runs):
            batch = {sid: [(s, chains[sid][s - 1]) for s in range(next_seq, next_seq + per_station)]
                     for sid in sids}
            last = next_seq + per_station - 1
            os.kill(collector.pid, signal.SIGSTOP)
            try:
                _publish_all(district, batch)
            finally:
                cpu0 = proc_cpu_s(collector.pid)
                begin = time.monotonic()
                os.kill(collector.pid, signal.SIGCONT)
            done = watch.wait({sid: last for sid in sids}, 120)
            if done is None:
                raise RuntimeError("collector did not ack every event in 120 s: see collector.log")
            cpu = proc_cpu_s(collector.pid) - cpu0
            rates.append(total_per_run / (done - begin))
            cpu_rates.append(total_per_run / max(cpu, 1e-3))
            next_seq = last + 1
            batches.append(batch)
            ctx.log(f"  ingest run {r}: {rates[-1]:.0f} ev/s wall, {cpu_rates[-1]:.0f} ev/CPU-s")
        sample = [chains[sid][i] for sid in sids for i in range(min(per_station, 2500 // stations))]
        raw_rate, jose_rate = _verify_rates(sample, district)
        note = f"{stations} stations x {per_station} events, queued then drained"
        figures.append(Figure("ingest", "ingest events/s (verified, committed, acked)", "ev/s",
                              median(rates), target=TARGET_RATE, better="higher",
                              baseline_name="mosquitto_sub to a file", runs=runs, samples=rates, note=note))
        figures.append(Figure("ingest", "ingest events per collector CPU-second", "ev/s",
                              median(cpu_rates), target=TARGET_RATE, better="higher",
                              baseline=raw_rate, baseline_name="Ed25519 verify only, 1 core",
                              ratio_target=TARGET_VERIFY_SHARE, runs=runs, samples=cpu_rates))
        figures.append(Figure("ingest", "jose.verify alone (our verify path), 1 core", "ev/s", jose_rate,
                              better="higher", baseline=raw_rate,
                              baseline_name="Ed25519 verify only, 1 core"))
        # latency at a light load: one station, one event every 50 ms (collector idle first)
        _wait_idle(collector.pid)
        sid = sids[0]
        client = district.client(sid, district.station_password(sid), client_id=sid)
        sent: dict[int, float] = {}
        for seq in range(next_seq, next_seq + light):
            sent[seq] = time.monotonic()
            client.publish(f"cr/v1/{DISTRICT}/station/{sid}/event", chains[sid][seq - 1], qos=1)
            time.sleep(0.05)
        last = next_seq + light - 1
        if watch.wait({sid: last}, 30) is None:
            raise RuntimeError("light-load events not all acked")
        lat = [(watch.first_cover[(sid, s)] - t) * 1000 for s, t in sent.items()]
        figures.append(Figure("ingest", "latency publish -> ack, median (20 ev/s)", "ms", median(lat),
                              runs=len(lat), note="group commit, then ack"))
        figures.append(Figure("ingest", "latency publish -> ack, p99 (20 ev/s)", "ms",
                              percentile(lat, 99), target=TARGET_P99_MS, runs=len(lat)))
        # baseline (a), after the collector has stopped for good (it would also take these)
        stop_process(collector)
        for r, batch in enumerate(batches):
            sub = _mosquitto_sub_rate(district, batch, district.root / f"sub-{r}.out")
            if sub is not None:
                sub_rates.append(sub)
            ctx.log(f"  ingest baseline run {r}: mosquitto_sub {sub or 0:.0f} msg/s")
        figures[0].baseline = median(sub_rates) if sub_rates else None
    finally:
        if collector is not None:
            if collector.poll() is None:
                os.kill(collector.pid, signal.SIGCONT)
            stop_process(collector)
        district.close()
    return figures
