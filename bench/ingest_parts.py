"""``python -m bench.ingest_parts``: where the collector's CPU per event goes.

Each stage is timed in CPU seconds (``time.process_time``, or the receiving process's
``/proc`` ticks), best of several runs, so the figures hold on a loaded machine (wall
clock does not); all per event, over the same signed, chained events:

- raw Ed25519 verify (``cryptography``), the issue's baseline;
- ``jose.verify`` (our JWS path: size/JSON/header checks, base64, signature, payload JSON);
- ``parse_event`` (payload validation), ``Ingestor.check_message`` (every check of one
  message: topic, registry, verify, payload, record);
- ``SqliteStore.add_batch`` in batches of 500 (the service's ``ack.max_batch``), and
  ``Ingestor.ingest`` end to end in-process (checks + store);
- the MQTT receive path without ingest (:mod:`bench.mqtt_receiver`: paho MQTT 5, QoS 1,
  manual PUBACK, the service's queue hand-off) frozen while a real Mosquitto queues the
  events, then resumed; beside ``mosquitto_sub`` (C) receiving the same (``--no-mqtt``
  skips both).

The last line adds the in-process ingest and the paho path: the CPU per event of
``radio-district run``, and its share of the raw verify rate (the issue's target 0.75).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.common import PYTHON, bench_env, proc_cpu_s, stop_process
from bench.district import DISTRICT, OBSERVER, District, make_district
from bench.ingest import TARGET_VERIFY_SHARE, _publish_all, _started_at


def _best_us(fn: Callable[[], float | None], runs: int, count: int) -> float:
    """Least CPU microseconds per item over ``runs`` calls of ``fn`` (which returns its own
    CPU seconds, or None to be timed here)."""
    best = float("inf")
    for _ in range(runs):
        begin = time.process_time()
        own = fn()
        spent = own if own is not None else time.process_time() - begin
        best = min(best, spent)
    return best / count * 1e6


def in_process(district: District, messages: list[tuple[str, bytes, str]], runs: int) -> dict[str, float]:
    from district_collector.config import load_district_config
    from district_collector.intake.ingest import Ingestor
    from district_collector.store.sqlite import SqliteStore
    from radio_protocol.jose import b64url_decode, jwk_to_public_key, verify
    from radio_protocol.messages.event import parse_event
    from radio_protocol.names import EVENT_TYP

    config = load_district_config(district.config_path)
    n = len(messages)
    keys = {st.signer.kid: jwk_to_public_key(st.jwk) for st in district.stations.values()}
    prepared = []
    for _topic, raw, _src in messages:
        j = json.loads(raw)
        kid = json.loads(b64url_decode(j["protected"]))["kid"]
        prepared.append((keys[kid], b64url_decode(j["signature"]), f"{j['protected']}.{j['payload']}".encode()))
    rings = {}
    for topic, _raw, _src in messages:
        sid = topic.split("/")[4]
        entry = config.station(sid)
        assert entry is not None
        rings[topic] = entry.keyring
    payloads = [verify(raw, rings[t], EVENT_TYP).payload for t, raw, _ in messages]
    now = datetime.now(UTC)
    checker = Ingestor(config, None)  # type: ignore[arg-type]  # check_message needs no store
    records = [checker.check_message(t, raw, s, now) for t, raw, s in messages]
    workdir = Path(tempfile.mkdtemp(dir=district.root))

    def raw_verify() -> None:
        for key, sig, data in prepared:
            key.verify(sig, data)

    def jose_verify() -> None:
        for topic, raw, _src in messages:
            verify(raw, rings[topic], EVENT_TYP)

    def payload_check() -> None:
        for p in payloads:
            parse_event(p)

    def check() -> None:
        for topic, raw, src in messages:
            checker.check_message(topic, raw, src, now)

    def store_only() -> float:
        store = SqliteStore(Path(tempfile.mkdtemp(dir=workdir)) / "s.sqlite3")
        begin = time.process_time()
        for i in range(0, n, 500):
            store.add_batch(records[i:i + 500])  # type: ignore[arg-type]
        spent = time.process_time() - begin
        store.close()
        return spent

    def ingest() -> float:
        store = SqliteStore(Path(tempfile.mkdtemp(dir=workdir)) / "s.sqlite3")
        ingestor = Ingestor(config, store)
        begin = time.process_time()
        for i in range(0, n, 500):
            ingestor.ingest(messages[i:i + 500], now)
        spent = time.process_time() - begin
        store.close()
        return spent

    out: dict[str, float] = {}
    for name, fn in (("raw Ed25519 verify", raw_verify), ("jose.verify", jose_verify),
                     ("parse_event", payload_check), ("Ingestor.check_message", check),
                     ("SqliteStore.add_batch (500 a batch)", store_only),
                     ("Ingestor.ingest (checks + store)", ingest)):
        out[name] = _best_us(fn, runs, n)  # type: ignore[arg-type]
        print(f"  {name:45s} {out[name]:8.1f} us", flush=True)
    return out


def _receive_cpu(district: District, argv: list[str], stdin: str | None,
                 batch: dict[str, list[tuple[int, bytes]]], total: int) -> float:
    """CPU seconds a receiver process spends taking ``total`` queued messages."""
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    children0 = usage0.ru_utime + usage0.ru_stime
    sink = subprocess.DEVNULL if argv[0] == "mosquitto_sub" else subprocess.PIPE  # nobody reads its output
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=sink, env=bench_env())
    assert proc.stdin is not None
    try:
        if stdin is not None:
            proc.stdin.write(stdin.encode() + b"\n")
            proc.stdin.flush()
        if argv[0] != "mosquitto_sub" and (proc.stdout is None or proc.stdout.readline().strip() != b"ready"):
            raise RuntimeError("the receiver did not subscribe")
        os.kill(proc.pid, signal.SIGSTOP)
        _publish_all(district, batch)
        cpu0 = proc_cpu_s(proc.pid)
        os.kill(proc.pid, signal.SIGCONT)
        if argv[0] == "mosquitto_sub":
            proc.wait(300)  # -C: exits after the last message (or -W's timeout)
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            return usage.ru_utime + usage.ru_stime - children0
        assert proc.stdout is not None
        proc.stdout.readline()  # done
        return proc_cpu_s(proc.pid) - cpu0
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGCONT)
            stop_process(proc)


def mqtt_path(district: District, chains: dict[str, list[bytes]], per_station: int, runs: int) -> dict[str, float]:
    total = len(chains) * per_station
    topic_filter = f"cr/v1/{DISTRICT}/station/+/event"
    paho = [PYTHON, "-m", "bench.mqtt_receiver", str(district.collector_port), OBSERVER, "-", str(total), topic_filter]
    login = ["-p", str(district.collector_port), "-u", OBSERVER, "-P", district.observer_password,
             "-q", "1", "-V", "mqttv5", "-t", topic_filter, "-c", "-i", "bench-parts-sub", "-x", "600"]
    # a persistent session subscribed once beforehand (-E: exit when subscribed), so the broker
    # queues every message for it even before the measured mosquitto_sub has connected
    subprocess.run(["mosquitto_sub", *login, "-E"], check=True, timeout=60, capture_output=True)
    sub = ["mosquitto_sub", *login, "-C", str(total), "-W", "240"]
    out: dict[str, float] = {}
    for name, argv, stdin in (("paho receive + queue + PUBACK (no ingest)", paho, district.observer_password),
                              ("mosquitto_sub receive (C), same messages", sub, None)):
        best = float("inf")
        for r in range(runs):
            batch = {sid: [(i, chain[(r * per_station + i) % len(chain)]) for i in range(per_station)]
                     for sid, chain in chains.items()}
            best = min(best, _receive_cpu(district, argv, stdin, batch, total))
        out[name] = best / total * 1e6
        print(f"  {name:45s} {out[name]:8.1f} us", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_parts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--per-station", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-mqtt", action="store_true")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "commune-radio-bench"))
    args = parser.parse_args(argv)
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    district = make_district(Path(tempfile.mkdtemp(dir=root, prefix="ingest-parts-")), args.stations,
                             with_broker=not args.no_mqtt)
    try:
        chains = {sid: st.chain(args.per_station, _started_at) for sid, st in district.stations.items()}
        messages = [(f"cr/v1/{DISTRICT}/station/{sid}/event", jws, "mqtt")
                    for sid, chain in chains.items() for jws in chain]
        print(f"CPU microseconds per event, best of {args.runs}, {len(messages)} events", flush=True)
        figures: dict[str, float] = in_process(district, messages, args.runs)
        if not args.no_mqtt:
            district.start_broker()
            district.observer([f"cr/v1/{DISTRICT}/station/+/ack"], lambda _m: None)
            figures.update(mqtt_path(district, chains, args.per_station, min(args.runs, 3)))
    finally:
        district.close()
    raw = figures["raw Ed25519 verify"]
    print("summary (x = multiple of one raw verify)")
    for name, us in figures.items():
        print(f"  {name:45s} {us:8.1f} us  {us / raw:5.2f}x")
    paho = figures.get("paho receive + queue + PUBACK (no ingest)")
    if paho is not None:
        whole = figures["Ingestor.ingest (checks + store)"] + paho
        print(f"  {'collector estimate (ingest + paho path)':45s} {whole:8.1f} us  {whole / raw:5.2f}x"
              f"  -> {raw / whole:.2f} of the verify-only rate (target >= {TARGET_VERIFY_SHARE:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
