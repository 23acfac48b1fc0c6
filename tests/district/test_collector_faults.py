"""The collector process under faults, against a real Mosquitto: SIGTERM of
``radio-district run`` mid-stream, SIGKILL (a power cut) mid-batch then restart, events
delivered twice and out of order, bad messages mixed into batches, and the signed ack on
the wire (``through`` + ``also`` exactly as docs/protocol.md).

The invariant checked everywhere: every seq any ack ever claimed is in the store (the
store is durable, so an ack sent before its commit would show as a claimed-but-missing
seq after a kill), and at the end every seq is stored exactly once, chain intact. (The
real station's events, live and hand-carried: tests/system/test_delivery_events_import.py.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from mqtt_broker import BrokerEnv
from test_collector_service import MiniStation, _service, _t, _wait

from district_collector.store.sqlite import SqliteStore
from radio_protocol.jose import KeyRing, verify
from radio_protocol.names import ACK_TYP, EVENT_TYP

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
REPO = Path(__file__).resolve().parents[2]
KILLS = 5


def _run_collector(env: BrokerEnv, log_path: Path) -> subprocess.Popen[bytes]:
    """``radio-district -c district.yaml run`` as a real process."""
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "district_collector.cli", "-c", str(env.district_config),
                                 "run"], stdout=log, stderr=log, cwd=REPO,
                                env=dict(os.environ, PYTHONPATH=str(REPO)))


class AckLedger:
    """Every seq claimed by any ack the station received."""

    def __init__(self) -> None:
        self.claimed: set[int] = set()
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, ack: dict[str, object]) -> None:
        with self._lock:
            self.claimed.update(range(1, int(ack["through"]) + 1))  # type: ignore[call-overload]
            self.claimed.update(ack["also"])  # type: ignore[arg-type]
            self.count += 1


class StreamingStation(MiniStation):
    def publish_unacked_from(self, first_index: int) -> None:
        """Publish the newly recorded events ``first_index..limit-1`` (0-based) once."""
        for index in range(max(0, first_index), self.limit):
            self.client.publish(_t(self.station, "event"), self.events[index], qos=1)
            self.published += 1


def _recorder(station: StreamingStation, total: int, per_tick: int, stop: threading.Event,
              hold: tuple[int, threading.Event] | None = None) -> threading.Thread:
    """The station keeps recording events (``limit`` grows) while the collector comes and goes.

    ``hold=(n, go)``: recording pauses after ``n`` events until ``go`` is set, so a test can
    act while the rest is certainly not yet published (however slow the machine)."""
    def run() -> None:
        while not stop.is_set() and station.limit < total:
            if hold is not None and station.limit >= hold[0] and not hold[1].is_set():
                hold[1].wait(0.05)
                continue
            station.limit = min(total, station.limit + per_tick)
            if station.client.is_connected():
                station.publish_unacked_from(station.limit - per_tick)
            time.sleep(0.01)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _assert_store_exact(env: BrokerEnv, total: int, ledger: AckLedger) -> None:
    with SqliteStore(env.config.database) as store:
        seqs = store.seqs(KOI)
        s = store.seq_summary(KOI)
    assert seqs == list(range(1, total + 1))
    assert (s.gaps, s.chain_breaks, s.conflicts, s.through) == ((), (), (), total)
    assert ledger.claimed <= set(seqs), f"acked but not stored: {sorted(ledger.claimed - set(seqs))[:10]}"
    db = sqlite3.connect(env.config.database)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_run_sigterm_mid_stream_acks_only_committed_then_resumes(
        mqtt_env: BrokerEnv, tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    total = 1500
    ledger = AckLedger()
    log_path = tmp_path / "collector.log"
    proc = _run_collector(mqtt_env, log_path)
    procs.append(proc)
    assert _wait(lambda: b"mqtt connected" in log_path.read_bytes(), 30)
    station = StreamingStation(mqtt_env, KOI, mqtt_env.chain(KOI, total), resend_s=1.0, on_ack=ledger)
    station.limit = 0
    stop = threading.Event()
    go_on = threading.Event()
    station.start()
    # At most 600 of the 1,500 are published before the SIGTERM, whatever the machine's
    # speed (once all 1,500 had been stored before the signal arrived).
    recorder = _recorder(station, total, 5, stop, hold=(600, go_on))
    try:
        with SqliteStore(mqtt_env.config.database) as store:
            assert _wait(lambda: store.count_events() >= 150, 20)
            proc.send_signal(signal.SIGTERM)
            go_on.set()  # events keep streaming in meanwhile
            started = time.monotonic()
            assert proc.wait(15) == 0
            stopped_in = time.monotonic() - started
            stored = set(store.seqs(KOI))
        assert len(stored) < total, "SIGTERM must land mid-stream"
        assert ledger.claimed <= stored, f"acked but not committed: {sorted(ledger.claimed - stored)[:10]}"
        assert stopped_in < 5, f"SIGTERM under load took {stopped_in:.1f} s"
        log = log_path.read_text()
        assert f"collector stopped accepted={len(stored)} " in log, log[-500:]
        proc = _run_collector(mqtt_env, log_path)  # the broker queued the rest for our session
        procs.append(proc)
        assert _wait(station.all_acked, 30)
    finally:
        stop.set()
        recorder.join(2)
        station.stop()
    _assert_store_exact(mqtt_env, total, ledger)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_run_sigkill_mid_batch_then_restart_store_exact(
        mqtt_env: BrokerEnv, tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    """A power cut of the collector (SIGKILL), many times while a station streams: the
    station republishes what no ack covered, the store ends with every seq exactly once."""
    seed = 20261126
    rng = random.Random(seed)
    total = 1500
    ledger = AckLedger()
    log_path = tmp_path / "collector.log"
    station = StreamingStation(mqtt_env, KOI, mqtt_env.chain(KOI, total), resend_s=2.0, on_ack=ledger)
    station.limit = 0
    stop = threading.Event()
    station.start()
    recorder = _recorder(station, total, 2, stop)
    at_kill: list[int] = []
    try:
        for _ in range(KILLS):
            batches = log_path.read_text().count("batch committed") if log_path.exists() else 0
            proc = _run_collector(mqtt_env, log_path)
            procs.append(proc)
            # time the kill from this process's first committed batch (start-up and the
            # redelivered backlog take a varying time on a loaded machine), then at a
            # random point of the next batches: receiving, verifying, committing, acking
            def committed(before: int = batches) -> bool:
                return log_path.read_text().count("batch committed") > before
            assert _wait(committed, 30)
            time.sleep(rng.uniform(0.0, 0.3))
            proc.kill()
            assert proc.wait(5) == -signal.SIGKILL
            with SqliteStore(mqtt_env.config.database) as store:
                at_kill.append(store.count_events(KOI))
                assert ledger.claimed <= set(store.seqs(KOI)), f"acked but lost by the kill (seed {seed})"
        assert any(0 < n < total for n in at_kill), f"no kill landed mid-stream: {at_kill}"
        assert len(set(at_kill)) > 1, f"the collector made no progress between kills: {at_kill}"
        proc = _run_collector(mqtt_env, log_path)
        procs.append(proc)
        assert _wait(lambda: station.limit == total and station.all_acked(), 60), \
            f"not all acked (seed {seed}, stored at kills {at_kill})"
    finally:
        stop.set()
        recorder.join(2)
        station.stop()
    _assert_store_exact(mqtt_env, total, ledger)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_service_events_twice_and_out_of_order_counts_unchanged(mqtt_env: BrokerEnv) -> None:
    events = mqtt_env.chain(KOI, 120)
    order = list(range(120))
    random.Random(7).shuffle(order)
    service = _service(mqtt_env)
    koi = mqtt_env.client(KOI)
    try:
        for i in order:
            koi.publish(_t(KOI, "event"), events[i], qos=1)
        with SqliteStore(mqtt_env.config.database) as store:
            assert _wait(lambda: store.ack_position(KOI) == (120, []))
            before = [(r.seq, r.payload_sha256, r.jws, r.received_at) for r in store.iter_events()]
            for i in order[::-1] + order[:30]:  # everything again, reversed, then part a third time
                koi.publish(_t(KOI, "event"), events[i], qos=1)
            assert _wait(lambda: service.counts["duplicate"] == 150)
            time.sleep(0.2)
            after = [(r.seq, r.payload_sha256, r.jws, r.received_at) for r in store.iter_events()]
    finally:
        service.stop()
    assert after == before and [r[0] for r in after] == list(range(1, 121))
    assert (service.counts["accepted"], service.counts["duplicate"], service.counts["conflict"]) == (120, 150, 0)


def test_service_ack_on_the_wire_through_and_also(mqtt_env: BrokerEnv) -> None:
    events = mqtt_env.chain(KOI, 9)
    ring = KeyRing.from_jwks([mqtt_env.district_jwk])
    service = _service(mqtt_env)
    koi = mqtt_env.client(KOI)
    acks: list[bytes] = []
    lock = threading.Lock()

    def on_message(c: object, u: object, m: object) -> None:
        with lock:
            acks.append(bytes(m.payload))  # type: ignore[attr-defined]
    koi.on_message = on_message
    koi.subscribe(_t(KOI, "ack"), qos=1)

    def last_ack() -> dict[str, object]:
        with lock:
            raw = acks[-1]
        v = verify(raw, ring, ACK_TYP)
        assert v.kid == mqtt_env.district_signer.kid
        return json.loads(v.payload_bytes)  # type: ignore[no-any-return]
    try:
        for seq in (1, 2, 5, 6, 9):
            koi.publish(_t(KOI, "event"), events[seq - 1], qos=1)
        assert _wait(lambda: bool(acks) and last_ack()["also"] == [5, 6, 9])
        ack = last_ack()
        assert sorted(ack) == ["also", "at", "station", "through", "type", "v"]
        assert (ack["v"], ack["type"], ack["station"], ack["through"]) == (1, "ack", KOI, 2)
        assert str(ack["at"]).endswith("+07:00") and len(str(ack["at"])) == 29
        for seq in (3, 4):
            koi.publish(_t(KOI, "event"), events[seq - 1], qos=1)
        assert _wait(lambda: last_ack()["through"] == 6)
        assert last_ack()["also"] == [9]
        # retained: a station connecting later reads the latest ack at once
        late = mqtt_env.client(KOI, client_id="late-reader")
        got: list[bytes] = []
        late.on_message = lambda c, u, m: got.append(bytes(m.payload))
        late.subscribe(_t(KOI, "ack"), qos=1)
        assert _wait(lambda: bool(got))
        assert json.loads(verify(got[0], ring, ACK_TYP).payload_bytes)["through"] == 6
    finally:
        service.stop()


def test_service_bad_messages_in_a_stream_lose_nothing_good(mqtt_env: BrokerEnv) -> None:
    events = mqtt_env.chain(KOI, 30)
    signer = mqtt_env.stations[KOI].signer
    ruong = mqtt_env.stations[RUONG].signer
    bad: list[tuple[bytes, str]] = [
        (b"\x00\xff garbage", "bad-json"),
        (b"x" * 100_000, "too-large"),
        (ruong.sign({"v": 1}, EVENT_TYP), "unknown-kid"),
        (signer.sign({"v": 1, "type": "airing", "station": KOI}, EVENT_TYP), "district-mismatch"),
        (b"", "bad-json"),
    ]
    service = _service(mqtt_env)
    koi = mqtt_env.client(KOI)
    try:
        for i, jws in enumerate(events):
            koi.publish(_t(KOI, "event"), jws, qos=1)
            if i % 6 == 3:
                koi.publish(_t(KOI, "event"), bad[i // 6][0], qos=1)
        with SqliteStore(mqtt_env.config.database) as store:
            assert _wait(lambda: store.ack_position(KOI) == (30, []) and len(store.quarantine_rows()) == 5)
            rows = store.quarantine_rows()
    finally:
        service.stop()
    assert [(r[0], r[1]) for r in rows] == [(KOI, reason) for _, reason in bad]
    assert [r[3] for r in rows] == [raw[:65536] for raw, _ in bad]
    assert "100000 bytes" in rows[1][2]
    assert (service.counts["accepted"], service.counts["rejected"]) == (30, 5)
