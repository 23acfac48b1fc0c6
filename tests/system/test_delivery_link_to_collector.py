"""Station link against a real Mosquitto and the real district collector: event delivery.

Every event recorded reaches the collector exactly once, whatever happens on the way (TLS,
broker down at start or SIGKILLed mid-stream, 30 days offline, collector away, failing
callbacks, the station process itself SIGKILLed again and again). Acks, status and
schedules: tests/station/test_link_messages.py.

Each test gets its own broker (``mqtt_env``: district config, station credentials, ACL
as docs/protocol.md); the station side is the real outbox and link, the district side the
real ``CollectorService`` storing into SQLite and signing acks.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from mqtt_broker import BrokerEnv, make_tls_files
from test_link_support import (
    STATION,
    append_events,
    make_link,
    open_outbox,
    spawn_station,
    write_station_config,
)
from waiting import wait_until

from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import load_station_config

KILLS = 12


@pytest.fixture
def env(mqtt_env: BrokerEnv) -> BrokerEnv:
    """The shared real-Mosquitto district (``mqtt_env``, tests/mqtt_broker.py) under a short name."""
    return mqtt_env


def start_collector(env: BrokerEnv, stop_list: list[Any]) -> CollectorService:
    collector = CollectorService(env.config, env.district_signer)
    collector.start()
    stop_list.append(collector)
    return collector


def assert_store_exact(env: BrokerEnv, last_seq: int, station: str = STATION) -> None:
    """The collector stored every seq 1..last_seq exactly once, chain intact."""
    with SqliteStore(env.config.database) as store:
        assert store.seqs(station) == list(range(1, last_seq + 1))
        summary = store.seq_summary(station)
    assert (summary.gaps, summary.chain_breaks, summary.conflicts) == ((), (), ())


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_link_delivers_events_and_outbox_drains(env: BrokerEnv, tmp_path: Path, stop_list: list[Any],
                                                tls: bool) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st", tls=tls))
    outbox = open_outbox(config)
    append_events(outbox, 40)
    start_collector(env, stop_list)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    wait_until(lambda: outbox.pending_count() == 0, 15, "the outbox to drain")
    append_events(outbox, 10)  # events recorded while connected go out without a reconnect
    link.notify()
    wait_until(lambda: outbox.pending_count() == 0, 10, "the new events to be acked")
    assert_store_exact(env, 50)
    assert link.stats.acks_rejected == 0 and link.stats.connects == 1


def test_link_tls_refuses_a_broker_its_ca_did_not_sign(env: BrokerEnv, tmp_path: Path,
                                                       stop_list: list[Any]) -> None:
    """A valid CA file that did not sign the broker's certificate: no connection, nothing sent."""
    config_path = write_station_config(env, tmp_path / "st", tls=True)
    other_ca = make_tls_files(tmp_path / "other-ca")[0]
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["mqtt"]["tls"]["ca"] = str(other_ca)
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load_station_config(config_path)
    outbox = open_outbox(config)
    append_events(outbox, 5)
    start_collector(env, stop_list)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    assert not link.wait_connected(2.0)
    assert link.stats.connects == 0 and link.stats.events_published == 0
    assert outbox.pending_count() == 5


def test_link_broker_down_at_start_then_delivers(env: BrokerEnv, tmp_path: Path,
                                                 stop_list: list[Any]) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    env.broker.stop()
    outbox = open_outbox(config)
    append_events(outbox, 20)
    link = make_link(config, outbox)
    link.start()  # returns at once although nothing listens
    stop_list.append(link)
    append_events(outbox, 20)  # the station keeps recording meanwhile
    assert not link.wait_connected(1.2)
    env.broker.start()
    start_collector(env, stop_list)
    wait_until(lambda: outbox.pending_count() == 0, 15, "delivery after the broker came up")
    assert_store_exact(env, 40)


def test_link_catches_up_after_30_days_offline(env: BrokerEnv, tmp_path: Path,
                                               stop_list: list[Any]) -> None:
    """~30 days x 70 airings: 2,100 events wait in the outbox, then all arrive once."""
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 2100)
    start_collector(env, stop_list)
    link = make_link(config, outbox, batch=200)
    link.start()
    stop_list.append(link)
    wait_until(lambda: outbox.pending_count() == 0, 40, "the 30-day backlog to drain", step_s=0.1)
    assert_store_exact(env, 2100)
    # bounded batches: never more than one batch of publishes waited for PUBACK at once
    assert link.stats.events_published >= 2100
    assert 0 < link.stats.max_in_flight <= 200


def test_link_callback_exception_is_contained(env: BrokerEnv, tmp_path: Path, stop_list: list[Any],
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A callback that fails logs and returns; the network thread goes on delivering."""
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    start_collector(env, stop_list)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    append_events(outbox, 5)
    link.notify()
    wait_until(lambda: outbox.pending_count() == 0, 15, "the first 5 events to be acked")
    with caplog.at_level("ERROR"):
        link._network.on_message(None, None, object())  # no .payload: must log, not raise into paho
        # client None: subscribe fails, contained
        link._network.on_connect(None, None, None, None, None)  # type: ignore[arg-type]
    assert "link on_message callback failed" in caplog.text
    append_events(outbox, 5)
    link.notify()
    wait_until(lambda: outbox.pending_count() == 0 and outbox.last_seq() == 10, 15,
               "5 more events delivered after the failing callbacks")
    assert_store_exact(env, 10)


def test_link_republishes_unacked_while_connected(env: BrokerEnv, tmp_path: Path,
                                                  stop_list: list[Any]) -> None:
    """Events the broker dropped (no collector session yet) go out again after republish_s."""
    config = load_station_config(write_station_config(env, tmp_path / "st", republish_s=1.0))
    outbox = open_outbox(config)
    append_events(outbox, 10)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    wait_until(lambda: link.stats.events_published == 10, 5, "the first round")
    start_collector(env, stop_list)  # subscribes only now: the first round reached no one
    wait_until(lambda: outbox.pending_count() == 0, 10, "the periodic re-publish to be acked")
    assert link.stats.connects == 1 and link.stats.rounds >= 2
    assert_store_exact(env, 10)


def test_link_broker_sigkill_mid_stream_loses_nothing(env: BrokerEnv, tmp_path: Path,
                                                      stop_list: list[Any]) -> None:
    """The broker is SIGKILLed from inside the link's 150th publish, once the collector has
    stored part of the stream: mid-stream by construction (no sleep or poll to race), so
    events are stored, in flight and not yet sent at the kill; nothing is lost after."""
    config = load_station_config(write_station_config(env, tmp_path / "st", republish_s=1.0))
    outbox = open_outbox(config)
    append_events(outbox, 500)
    start_collector(env, stop_list)
    link = make_link(config, outbox, batch=50)
    publish = link._publish_event
    published = [0]
    at_kill: dict[str, int] = {}

    def publish_then_maybe_kill(jws: bytes) -> Any:
        published[0] += 1
        if published[0] == 150:  # the link thread: nothing more is published meanwhile
            stored = wait_until(lambda: len(stored_seqs(env)), 10, "the collector to store some events")
            env.broker.kill()
            at_kill.update(stored=stored, pending=outbox.pending_count())
        return publish(jws)

    link._publish_event = publish_then_maybe_kill  # type: ignore[method-assign]
    link.start()
    stop_list.append(link)
    wait_until(lambda: at_kill, 15, "the kill mid-stream")
    assert 0 < at_kill["stored"] < 150 and at_kill["pending"] > 500 - 150
    append_events(outbox, 50)  # recorded while the broker is gone
    env.broker.start()
    wait_until(lambda: outbox.pending_count() == 0, 30, "delivery after the broker restart", step_s=0.1)
    assert link.stats.connects >= 2
    assert_store_exact(env, 550)


def stored_seqs(env: BrokerEnv, station: str = STATION) -> list[int]:
    with SqliteStore(env.config.database) as store:
        return store.seqs(station)


def test_link_backlog_with_collector_away_pages_through_it(env: BrokerEnv, tmp_path: Path,
                                                           stop_list: list[Any]) -> None:
    """600 unacked events and no acks coming: the link pages through the whole backlog
    (``Outbox.unacked(limit, after=)``: pages of at most ``batch`` rows, at most ``batch``
    in flight), never reading the backlog whole; all arrive once the collector is back."""
    config = load_station_config(write_station_config(env, tmp_path / "st", republish_s=60.0))
    collector = CollectorService(env.config, env.district_signer)
    collector.start()  # a persistent session: the broker queues events for it from now on
    wait_until(collector.connected.is_set, 5, "the collector to connect")
    collector.stop()
    outbox = open_outbox(config)
    append_events(outbox, 600)
    link = make_link(config, outbox, batch=50)
    link.start()
    stop_list.append(link)
    wait_until(lambda: link.stats.events_published >= 600, 15, "the whole backlog, page by page")
    time.sleep(0.3)
    assert link.stats.events_published == 600 and outbox.pending_count() == 600
    assert link.stats.rounds == 1 and link.stats.max_rows_read <= 50 and link.stats.max_in_flight <= 50
    start_collector(env, stop_list)
    wait_until(lambda: outbox.pending_count() == 0, 30, "the backlog after the collector returned",
               step_s=0.1)
    assert link.stats.events_published == 600  # no re-publish was needed
    assert_store_exact(env, 600)


def test_link_station_sigkill_during_delivery_stores_every_seq_once(
        env: BrokerEnv, tmp_path: Path, stop_list: list[Any], procs: list[subprocess.Popen[bytes]]) -> None:
    seed = 20261126
    rng = random.Random(seed)
    total = 1000
    config_path = write_station_config(env, tmp_path / "st", republish_s=1.0)
    config = load_station_config(config_path)
    start_collector(env, stop_list)
    log_path = tmp_path / "station.log"
    for i in range(KILLS):
        proc = spawn_station(config_path, total, log_path, per_tick=5)
        procs.append(proc)
        # Interpreter start-up takes from 0.3 s to several seconds on a loaded machine: time
        # the kill from the daemon's own "running" line, then at a random point of
        # connect / delivery / recording.
        def started(n: int = i + 1) -> bool:
            return log_path.read_text().count("daemon running") >= n

        wait_until(started, 30, "the station run to start")
        if i % 2:
            # every other kill waits for this run's first new event, so some kills land while
            # it records however slow the machine is (the others fall anywhere after start-up)
            recorded_before = _last_seq(config.outbox_path)
            wait_until(lambda before=recorded_before: _last_seq(config.outbox_path) > before, 30,
                       "the station run to record an event")
        time.sleep(rng.uniform(0.0, 0.6))
        proc.kill()
        assert proc.wait(5) == -9
    with Outbox(config.outbox_path) as outbox:
        killed_at = (outbox.last_seq(), outbox.pending_count())
    assert 0 < killed_at[0] < total, f"the kills did not land during recording: {killed_at}"
    assert log_path.read_text().count("mqtt connected") >= KILLS // 2, "too few kills during delivery"
    final_log = tmp_path / "final.log"
    final = spawn_station(config_path, total, final_log, per_tick=20)
    procs.append(final)
    wait_until(lambda: "daemon running" in final_log.read_text(), 15, "the last station run to start")
    with Outbox(config.outbox_path) as outbox:
        wait_until(lambda: outbox.last_seq() == total and outbox.pending_count() == 0, 30,
                   f"all {total} events to be acked (seed {seed}, after kills: {killed_at})", step_s=0.1)
    final.terminate()
    assert final.wait(10) == 0
    assert_store_exact(env, total)


def _last_seq(outbox_path: Path) -> int:
    """The outbox's last seq, read through a short-lived connection (the station writes it)."""
    if not outbox_path.exists():
        return 0
    with Outbox(outbox_path) as outbox:
        return outbox.last_seq()
