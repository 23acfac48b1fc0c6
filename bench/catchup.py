"""Figure 4: catch-up. A station with 10,000 undelivered events reconnects.

The outbox is filled once (cached) with the real :class:`~firmware_daemon.airing.outbox.Outbox`
(signed, chained airing events: about 5 ms each, one fsync per event) and copied
for every run. Then, with a real Mosquitto and the real ``radio-district run`` connected,
the real ``radio-station run`` starts with that outbox: the clock runs from the station's
start until the observer sees a district ack covering the last seq, and until the
station's outbox holds nothing unacknowledged.

Baseline in the same run: ``mosquitto_pub -l`` (QoS 1) publishing the same 10,000 JWS
lines with the station's credentials: the transport alone, nothing verified or stored.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import Figure, median, run_measured, stop_process, wait_for
from bench.district import DISTRICT, District, airing_payload, make_district
from bench.ingest import AckWatch, _collector
from bench.station import BenchStation

TARGET_S = 10.0
STATION = "st-00000"


def _started_at(seq: int) -> str:
    return f"2025-{1 + (seq // 600) % 12:02d}-{1 + (seq // 20) % 28:02d}T06:{seq % 60:02d}:00.012+07:00"


def build_outbox(template: Path, district: District, count: int, log: Any) -> Path:
    """An outbox of ``count`` unacknowledged events signed with the station's key (cached)."""
    from firmware_daemon.airing.outbox import Outbox

    done = template / "outbox.done"
    if done.exists() and done.read_text() == str(count):
        return template
    shutil.rmtree(template, ignore_errors=True)
    template.mkdir(parents=True)
    st = district.stations[STATION]
    begin = time.monotonic()
    outbox = Outbox(template / "outbox.sqlite", st.signer)
    for _ in range(count):
        outbox.append(lambda seq, prev: airing_payload(STATION, st.commune, seq, prev, _started_at(seq)))
    outbox.close()
    done.write_text(str(count))
    log(f"  catchup: built an outbox of {count} events in {time.monotonic() - begin:.0f} s")
    return template


def _one_run(ctx: Any, district: District, template: Path, count: int, run_id: int) -> tuple[
        float | None, float | None, float | None]:
    """(seconds to the covering ack, seconds to an empty outbox, mosquitto_pub seconds)."""
    root = district.root / f"run-{run_id}-{time.time_ns()}"
    for stale in (district.root / "collector.sqlite3", district.root / "collector.sqlite3-wal",
                  district.root / "collector.sqlite3-shm"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(district.broker_dir / "data", ignore_errors=True)
    (district.broker_dir / "data").mkdir(parents=True)
    district.start_broker()
    watch = AckWatch()
    collector = None
    station: BenchStation | None = None
    try:
        district.observer([f"cr/v1/{DISTRICT}/station/+/ack"], watch.on_message)
        collector = _collector(district)
        log_path = district.root / "collector.log"
        if not wait_for(lambda: b"mqtt connected" in log_path.read_bytes().split(b"signal")[-1], 30):
            raise RuntimeError("collector did not connect: see collector.log")
        time.sleep(0.3)  # its subscription reaches the broker
        data = root / "data"
        data.mkdir(parents=True)
        shutil.copyfile(template / "outbox.sqlite", data / "outbox.sqlite")
        shutil.copyfile(district.stations[STATION].key_path, data / "station.key")
        (data / "station.key").chmod(0o600)
        station = BenchStation(root, station_id=STATION, commune=district.stations[STATION].commune,
                               district_signer=district.district_signer, mqtt={
                                   "host": "127.0.0.1", "port": district.port, "username": STATION,
                                   "password_file": str(district.stations[STATION].password_file),
                                   "tls": None})
        begin = time.monotonic()
        station.start()
        acked_at = watch.wait({STATION: count}, 120)
        empty = wait_for(lambda: station is not None and station.pending() == 0, 60, 0.05)
        emptied_at = time.monotonic() if empty else None
        # the baseline logs in as the station, whose client id is its username on the
        # stations' listener: the daemon goes first, or the two would close each other
        station.stop()
        station = None
        # baseline: the same lines through mosquitto_pub (transport only)
        lines = _outbox_lines(template)
        pub = run_measured(["mosquitto_pub", "-p", str(district.port), "-u", STATION, "-P",
                            district.station_password(STATION), "-i", f"{STATION}-pub", "-q", "1",
                            "-t", f"cr/v1/{DISTRICT}/station/{STATION}/event", "-l"], stdin=lines + b"\n")
        return (None if acked_at is None else acked_at - begin,
                None if emptied_at is None else emptied_at - begin,
                pub.wall_s if pub.returncode == 0 else None)
    finally:
        if station is not None:
            station.stop()
        if collector is not None:
            stop_process(collector)
        district.close()


def _outbox_lines(template: Path) -> bytes:
    import sqlite3

    db = sqlite3.connect(f"file:{template / 'outbox.sqlite'}?mode=ro", uri=True)
    try:
        return b"\n".join(bytes(r[0]) for r in db.execute("SELECT jws FROM events ORDER BY seq"))
    finally:
        db.close()


def run(ctx: Any) -> list[Figure]:
    count = 300 if ctx.quick else 10000
    runs = 1 if ctx.quick else 3
    district = make_district(ctx.workdir / "catchup-district", 1, with_broker=True)
    template = build_outbox(ctx.workdir / f"catchup-outbox-{count}", district, count, ctx.log)
    acked: list[float] = []
    emptied: list[float] = []
    pubs: list[float] = []
    for r in range(runs):
        a, e, p = _one_run(ctx, district, template, count, r)
        ctx.log(f"  catchup run {r}: acked {a} s, outbox empty {e} s, mosquitto_pub {p} s")
        if a is not None:
            acked.append(a)
        if e is not None:
            emptied.append(e)
        if p is not None:
            pubs.append(p)
    if not acked:
        from bench.common import not_measured

        return [not_measured("catchup", f"catch-up of {count} events", "s",
                             "no run got an ack covering every event", target=TARGET_S)]
    base = median(pubs) if pubs else None
    figures = [Figure("catchup", f"catch-up {count} events: start -> all acked", "s", median(acked),
                      target=TARGET_S, baseline=base, baseline_name="mosquitto_pub -l, QoS 1",
                      runs=len(acked), samples=acked, note="includes the daemon's start-up")]
    if emptied:
        figures.append(Figure("catchup", f"catch-up {count} events: start -> outbox empty", "s",
                              median(emptied), baseline=base, baseline_name="mosquitto_pub -l, QoS 1",
                              runs=len(emptied), samples=emptied))
    return figures
