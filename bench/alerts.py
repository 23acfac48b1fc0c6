"""Alert evaluation cost: one pass over 10,000 stations, and what alerts add to ingest.

Set-up: a real SQLite store with N stations (10,000; 200 with ``--quick``), each with a
verified status (2 % offline, 1 % with an unsynced clock), a published schedule (two
weekly slots) and a week of airings; the config's ``alerts:`` section with e-mail off.
``now`` is inside the week-at-risk window, so a pass runs every rule family, the weekly and
monthly report included (the engine otherwise computes the report at most every 5 min).

Figures:
- ``alerts pass``: median seconds of one steady pass (:meth:`AlertEngine.evaluate`) over
  the N stations (target < 1 s); the first pass (reading every stored event once) is shown
  in the note.
- ``ingest with alerts``: seconds to verify and commit M events through the real
  :class:`~district_collector.intake.ingest.Ingestor` while the alert thread runs a pass
  every 5 s (default: 30 s) on its own connection, against the same without it (ratio
  target <= 1.10).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Figure, median
from bench.district import airing_event
from bench.report_bench import _signer, write_config
from district_collector.alerts.engine import AlertEngine
from district_collector.config import DistrictConfig, load_district_config
from district_collector.intake.ingest import Ingestor
from district_collector.store.records import StatusRecord, StoredEvent
from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import Signer, canonical_json, sha256_hex
from radio_protocol.messages.event import build_event
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import EVENT_TYP, SCHEDULE_TYP, STATUS_TYP
from radio_protocol.timefmt import zone

TZ = zone("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 12, 26, 13, 0, tzinfo=TZ)  # Thursday 13:00, 5 days before the month ends
TARGET_PASS_S = 1.0
TARGET_INGEST_RATIO = 1.10
PASS_EVERY_S = 5.0  # six times the default alerts.interval_s


def _schedule(station: str, version: int) -> dict[str, Any]:
    return {"v": 1, "type": "schedule", "district": "kon-ray", "station": station, "version": version,
            "issued_at": "2024-11-25T09:00:00.000+07:00", "valid_from": "2024-12-01", "valid_until": "2024-12-31",
            "timezone": "Asia/Ho_Chi_Minh",
            "segments": [{"id": "cds-12", "title": "Chuyển đổi số", "program": "chuyen-doi-so", "priority": "normal",
                          "media": {"sha256": "0" * 64, "url": "https://district.example/m/0.mp3", "bytes": 1000,
                                    "duration_s": 300.0}}],
            "slots": [{"segment": "cds-12", "rrule": "FREQ=WEEKLY;BYDAY=TU,FR",
                       "dtstart": "2024-12-03T17:00:00.000+07:00"}]}


def _events(i: int, days: int) -> list[StoredEvent]:
    signer, sid, commune = _signer(i), f"st-{i:05d}", str(20000 + i // 2)
    out: list[StoredEvent] = []
    prev: str | None = None
    for seq in range(1, days + 1):
        day = NOW.date() - timedelta(days=days - seq + 1)
        event = replace(airing_event(sid, commune, seq, prev, f"{day.isoformat()}T06:30:00.012+07:00"),
                        schedule_version=1)
        body = canonical_json(build_event(event))
        payload = json.loads(body)
        out.append(StoredEvent.from_payload(signer.sign(body, EVENT_TYP), payload, sha256_hex(body), signer.kid,
                                            NOW - timedelta(days=1), "bench"))
        prev = sha256_hex(body)
    return out


def build(root: Path, stations: int, log: Any) -> DistrictConfig:
    """The pristine store and its config, built once per workdir and size (each measurement
    runs on a copy: a pass writes alerts into its store)."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / f"pristine-{stations}.sqlite3"
    done = root / f"pristine-{stations}.done"
    if done.exists():
        return load_district_config(root / "district.json")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    path = write_config(db, stations, as_json=True)
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["alerts"] = {"interval_s": 1, "remind_after_s": None}
    path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    config = load_district_config(path)
    district = Signer(load_private_key_for(config))
    t0 = time.perf_counter()
    store = SqliteStore(db)
    store._db.execute("PRAGMA synchronous=OFF")  # a bench build, not evidence: no fsync per schedule
    statuses, events = [], []
    for i in range(stations):
        sid = f"st-{i:05d}"
        state = "offline" if i % 50 == 0 else "online"
        st = Status(sid, state, NOW - timedelta(minutes=1), schedule_version=1, clock_synced=i % 100 != 1,
                    outbox_pending=0, last_seq=7)
        jws = _signer(i).sign(canonical_json(build_status(st)), STATUS_TYP)
        statuses.append(StatusRecord(sid, state, st.at.isoformat(), jws, NOW - timedelta(hours=2)))
        events += _events(i, 7) if i % 2 == 0 else []
        body = canonical_json(_schedule(sid, 1))
        store.add_schedule(sid, 1, district.sign(body, SCHEDULE_TYP), sha256_hex(body), NOW - timedelta(days=30))
    store.add_batch(events, (), statuses)
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    done.touch()
    log(f"  built {stations} stations, {len(events)} events in {time.perf_counter() - t0:.1f} s")
    return config


def load_private_key_for(config: DistrictConfig) -> Any:
    from radio_protocol.jose import load_private_key

    return load_private_key(config.signing_key)


def time_pass(config: DistrictConfig, report: bool = False) -> tuple[float, float, list[float], float]:
    """(first pass s, median steady pass s, samples, median CPU s of a steady pass); with
    ``report`` the week's and month's reports are recomputed every pass (else as the engine
    does: at most every 5 min)."""
    engine = AlertEngine(config)
    with SqliteStore(config.database) as store:
        t0 = time.perf_counter()
        engine.evaluate(store, NOW)
        first = time.perf_counter() - t0
        samples, cpu = [], []
        for k in range(1, 6):
            if report:
                engine.cache.pop("scoring_at", None)
            t0, c0 = time.perf_counter(), time.thread_time()
            engine.evaluate(store, NOW + timedelta(seconds=30 * k))
            samples.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
    return first, median(samples), samples, median(cpu)


def _ingest_batches(stations: int, count: int) -> list[list[tuple[str, bytes, str]]]:
    per = max(1, count // stations)
    msgs: list[tuple[str, bytes, str]] = []
    for i in range(1, stations, 2):  # the stations without events: their seqs start at 1
        signer, sid, commune = _signer(i), f"st-{i:05d}", str(20000 + i // 2)
        prev = None
        for seq in range(1, per + 1):
            body = canonical_json(build_event(airing_event(sid, commune, seq, prev, "2024-12-20T06:30:00.012+07:00")))
            msgs.append((f"cr/v1/kon-ray/station/{sid}/event", signer.sign(body, EVENT_TYP), "mqtt"))
            prev = sha256_hex(body)
    return [msgs[k:k + 500] for k in range(0, len(msgs), 500)]


def time_ingest(config: DistrictConfig, batches: list[list[tuple[str, bytes, str]]], alerts_on: bool) -> float:
    """Ingest seconds; with ``alerts_on`` an alert thread (its own connection) passes every
    :data:`PASS_EVERY_S`, its start-up pass done before the clock starts (as in a running service)."""
    stop, warm = threading.Event(), threading.Event()

    def alert_loop() -> None:
        engine = AlertEngine(config)
        with SqliteStore(config.database) as store:
            at = NOW
            while not stop.is_set():
                at += timedelta(seconds=1)
                engine.evaluate(store, at)
                warm.set()
                stop.wait(PASS_EVERY_S)

    thread = threading.Thread(target=alert_loop, daemon=True)
    if alerts_on:
        thread.start()
        warm.wait()
    with SqliteStore(config.database) as store:
        ingestor = Ingestor(config, store)
        t0 = time.perf_counter()
        for batch in batches:
            ingestor.ingest(batch, NOW)
        took = time.perf_counter() - t0
    stop.set()
    if alerts_on:
        thread.join()
    return took


def copy_of(config: DistrictConfig, name: str) -> DistrictConfig:
    """The built store copied to ``name`` (a fresh start for each ingest run), and its config."""
    db = config.database.with_name(f"{name}.sqlite3")
    shutil.copyfile(config.database, db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    cfg = json.loads(config.source.read_text(encoding="utf-8"))
    cfg["database"] = str(db)
    path = config.source.with_name(f"{name}.json")
    path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    return load_district_config(path)


def run(ctx: Any) -> list[Figure]:
    stations = 200 if ctx.quick else 10_000
    events = 2_000 if ctx.quick else 12_000
    pristine = build(ctx.workdir / "alerts", stations, ctx.log)
    config = copy_of(pristine, "pass")
    config_off, config_on = copy_of(pristine, "ingest-off"), copy_of(pristine, "ingest-on")
    first, steady, samples, cpu = time_pass(config)
    _first, with_report, samples_r, cpu_r = time_pass(config, report=True)
    figures = [Figure("alerts", f"alerts pass, {stations:,} stations", "s", steady,
                      target=TARGET_PASS_S, runs=len(samples), samples=samples,
                      note=f"CPU {cpu:.2f} s; first pass after a start (reads every stored event, expands "
                           f"every schedule once): {first:.1f} s"),
               Figure("alerts", f"alerts pass with the week and month reports, {stations:,} stations", "s",
                      with_report, runs=len(samples_r), samples=samples_r,
                      note=f"CPU {cpu_r:.2f} s; at most once per 5 min, once the at-risk moment has come")]
    batches = _ingest_batches(stations, events)
    off = time_ingest(config_off, batches, alerts_on=False)
    on = time_ingest(config_on, batches, alerts_on=True)
    n = sum(len(b) for b in batches)
    figures.append(Figure("alerts", f"ingest {n:,} events with alerts on (a pass every {PASS_EVERY_S:g} s)", "s", on,
                          baseline=off, baseline_name="alerts off", ratio_target=TARGET_INGEST_RATIO,
                          note=f"{n / on:,.0f} events/s on, {n / off:,.0f} off"))
    return figures
