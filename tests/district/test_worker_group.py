"""Several collector workers on one broker (``run --worker-group``), with real parts:
three ``radio-district run --worker-group g`` processes, a real Mosquitto, the real store
(PostgreSQL and SQLite), stations publishing chained signed events, one worker killed
with SIGKILL in the middle.

What must hold: every event sent is stored exactly once (checked against what was sent,
not what the collector says); every station's retained ack equals the store's
``ack_position``; the acks each station received never went backwards.

Mosquitto 2.0 (measured here): a shared subscription's messages go round-robin to every
member whose session exists, connected or not; a killed worker with a persistent session
keeps its share, unacked in-flight messages included, queued until it reconnects. The
stations' republishing covers those events through the other workers meanwhile, and the
restarted worker finds them again in its session: duplicates, stored once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from mqtt_broker import BrokerEnv, make_env
from store_backends import StoreBackend
from waiting import wait_until
from workers_kit import Stations, retained_ack, start_worker, worker_log

from district_collector.store.opening import open_store

STATIONS = {f"st-{i:02d}": (("23335", "Xã Đăk Kôi") if i % 2 else ("23326", "Xã Đăk Ruồng")) for i in range(12)}
HALF = 15  # events per station before the kill, and again after it


@pytest.fixture
def env(tmp_path: pytest.TempPathFactory) -> Iterator[BrokerEnv]:
    e = make_env(tmp_path / "mqtt", STATIONS)  # type: ignore[operator]
    try:
        yield e
    finally:
        e.close()


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def _covered(stations: Stations, timeout_s: float) -> None:
    """Republish what no ack covers (as a station does) until every event is covered."""
    deadline = time.monotonic() + timeout_s
    while not stations.all_covered():
        assert time.monotonic() < deadline, "events still not covered by an ack"
        time.sleep(1.0)
        stations.republish()


def test_three_workers_a_kill_loses_nothing_and_acks_never_go_back(env: BrokerEnv,
                                                                   store_backend: StoreBackend) -> None:
    config = store_backend.configure_file(env.district_config)
    workers = {wid: start_worker(env, "g", wid) for wid in ("w1", "w2", "w3")}
    stations: Stations | None = None
    try:
        for wid in workers:
            wait_until(lambda wid=wid: "mqtt connected" in worker_log(env, wid), 60, f"worker {wid} connected")
        stations = Stations(env)
        stations.send_chain(HALF, first=1)
        wait_until(lambda: "batch committed" in worker_log(env, "w2"), 60, "worker w2 committing")
        workers["w2"].send_signal(signal.SIGKILL)
        workers["w2"].wait(10)
        stations.send_chain(HALF, first=HALF + 1)
        _covered(stations, 180)  # through w1 and w3 while w2 is dead
        workers["w2"] = start_worker(env, "g", "w2")  # the same client id: its session is back
        wait_until(lambda: "session_present=True" in worker_log(env, "w2"), 60, "w2 resuming its session")
        wait_until(lambda: "duplicate=" in worker_log(env, "w2"), 60,
                   "w2 receiving the messages its session kept (events already stored)")
        _stop(list(workers.values()))
        assert all(p.returncode == 0 for wid, p in workers.items()), "a worker did not stop cleanly"
        stations.close()

        sent = stations.sent_keys()
        seen: dict[tuple[str, int, str], int] = {}
        with open_store(config, read_only=True) as store:
            for ev in store.iter_events():
                key = (ev.station, ev.seq, ev.payload_sha256)
                seen[key] = seen.get(key, 0) + 1
            positions = {sid: store.ack_position(sid, config.ack.max_also) for sid in STATIONS}
        assert len(sent) == len(STATIONS) * 2 * HALF
        assert set(seen) == sent, "stored events differ from the events sent"
        assert all(n == 1 for n in seen.values()), "an event was stored twice"
        for sid, st in stations.stations.items():
            assert st.bad_acks == 0
            assert positions[sid] == (2 * HALF, [])
            through, also = retained_ack(env, sid)
            assert (through, sorted(also)) == positions[sid], f"{sid}: retained ack differs from the store"
            throughs = [t for t, _ in st.acks]
            assert throughs == sorted(throughs), f"{sid}: an ack went backwards: {throughs}"
            covered = [set(range(1, t + 1)) | a for t, a in st.acks]
            assert all(a <= b for a, b in zip(covered, covered[1:], strict=False)), f"{sid}: coverage shrank"
        assert {"w1", "w3"} <= {wid for wid in workers if "batch committed" in worker_log(env, wid)}
    finally:
        if stations is not None:
            stations.close()
        _stop(list(workers.values()))
