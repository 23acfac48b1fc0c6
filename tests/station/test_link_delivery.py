"""Station link against a real Mosquitto and the real district collector.

Each test gets its own broker (``mqtt_env``: district config, station credentials, ACL
as PROTOCOL.md); the station side is the real outbox and link, the district side the
real ``CollectorService`` storing into SQLite and signing acks.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_broker import BrokerEnv, make_tls_files
from test_link_support import (
    STATION,
    append_events,
    make_link,
    open_outbox,
    wait_until,
    write_station_config,
)

from district_collector.intake.service import CollectorService
from district_collector.store.sqlite import SqliteStore
from firmware_daemon.config import load_station_config
from firmware_daemon.link.client import OversizedMessage, StationLink
from firmware_daemon.schedule.store import ScheduleStore
from firmware_daemon.service.status import ScheduleState, StationState
from radio_protocol.jose import (
    KeyRing,
    Signer,
    b64url_decode,
    b64url_encode,
    canonical_json,
    verify,
)
from radio_protocol.topics import topic

STATUS_MEMBERS = ["v", "type", "station", "state", "at", "schedule_version", "schedule_error",
                  "next_slot", "media_missing", "outbox_pending", "last_seq", "clock_synced", "amp",
                  "sw", "uptime_s"]


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


def signed_ack(signer: Signer, station: str, through: int, also: list[int] | None = None) -> bytes:
    payload = {"v": 1, "type": "ack", "station": station, "through": through, "also": also or [],
               "at": "2024-03-05T06:30:00.000+07:00"}
    return signer.sign(payload, "cr-ack+json")


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


def _forged_acks(env: BrokerEnv) -> dict[str, bytes]:
    wrong_key = Signer(Ed25519PrivateKey.generate())
    header = b64url_encode(canonical_json({"alg": "none", "typ": "cr-ack+json"}))
    body = b64url_encode(canonical_json({"v": 1, "type": "ack", "station": STATION, "through": 10,
                                         "also": [], "at": "2024-03-05T06:30:00.000+07:00"}))
    good = json.loads(signed_ack(env.district_signer, STATION, 10))
    return {
        "wrong-key": signed_ack(wrong_key, STATION, 10),
        "other-station": signed_ack(env.district_signer, "dak-ruong-01", 10),
        "alg-none": canonical_json({"protected": header, "payload": body, "signature": ""}),
        "unsigned-json": canonical_json({"v": 1, "type": "ack", "station": STATION, "through": 10}),
        "tampered": canonical_json({**good, "payload": b64url_encode(canonical_json(
            {"v": 1, "type": "ack", "station": STATION, "through": 99, "also": []}))}),
        "wrong-typ": env.district_signer.sign(b64url_decode(good["payload"]), "cr-status+json"),
        "bad-through": env.district_signer.sign({"v": 1, "type": "ack", "station": STATION,
                                                 "through": "10", "also": []}, "cr-ack+json"),
        "garbage": b"\x00not json",
    }


@pytest.mark.parametrize("kind", ["wrong-key", "other-station", "alg-none", "unsigned-json",
                                  "tampered", "wrong-typ", "bad-through", "garbage"])
def test_link_forged_ack_changes_nothing(env: BrokerEnv, tmp_path: Path, stop_list: list[Any],
                                        kind: str) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 10)
    district = env.client("collector")
    ack_topic = topic("kon-ray", STATION, "ack")
    district.publish(ack_topic, _forged_acks(env)[kind], qos=1, retain=True).wait_for_publish(5)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    wait_until(lambda: link.stats.acks_rejected >= 1, 10, f"the {kind} ack to be rejected")
    assert outbox.pending_count() == 10 and link.stats.acks_applied == 0
    # the link still listens: a genuine ack is honoured
    district.publish(ack_topic, signed_ack(env.district_signer, STATION, 4, [7]), qos=1, retain=True)
    wait_until(lambda: outbox.pending_count() == 5, 10, "the genuine ack to apply")
    assert [seq for seq, _ in outbox.unacked(100)] == [5, 6, 8, 9, 10]


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


def test_link_status_retained_signed_and_follows_changes(env: BrokerEnv, tmp_path: Path,
                                                        stop_list: list[Any]) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 3)
    state = StationState()
    link = make_link(config, outbox, state=state, status_min_interval_s=0.2)
    link.start()
    stop_list.append(link)
    assert link.wait_connected(5)
    station_keys = KeyRing.from_jwks([env.stations[STATION].jwk])
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        v = verify(bytes(message.payload), station_keys, "cr-status+json")
        with lock:
            seen.append(v.payload)

    watcher = env.client("collector")
    watcher.on_message = on_message
    watcher.subscribe(topic("kon-ray", STATION, "status"), qos=1)
    first = wait_until(lambda: list(seen), 5, "the retained online status")[0]
    assert list(first) == STATUS_MEMBERS
    assert (first["state"], first["station"], first["amp"], first["last_seq"]) == ("online", STATION, "off", 3)
    assert first["outbox_pending"] == 3 and first["v"] == 1 and first["type"] == "status"
    state.set_amp(True)
    state.set_schedule(ScheduleState(schedule_version=8, media_missing=("cds-2024-03-a",)))
    wait_until(lambda: any(p["amp"] == "on" and p["schedule_version"] == 8 for p in list(seen)), 5,
               "a status reporting amp on and schedule 8")
    last = seen[-1]
    assert last["media_missing"] == ["cds-2024-03-a"] and last["state"] == "online"
    link.stop()
    wait_until(lambda: seen[-1]["state"] == "offline", 5, "the offline status of a clean stop")


def test_link_schedule_bytes_handed_over_and_oversize_cut(env: BrokerEnv, tmp_path: Path,
                                                         stop_list: list[Any]) -> None:
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 5)
    received: list[bytes] = []

    def on_schedule(raw: bytes) -> None:
        received.append(raw)
        raise RuntimeError("a buggy scheduler must not stop the link")

    link: StationLink = make_link(config, outbox, on_schedule=on_schedule)
    link.start()
    stop_list.append(link)
    assert link.wait_connected(5)
    district = env.client("collector")
    sched_topic = topic("kon-ray", STATION, "schedule")
    district.publish(sched_topic, b"x" * (256 * 1024 + 1), qos=1).wait_for_publish(5)
    schedule = env.district_signer.sign({"v": 1, "type": "schedule", "station": STATION, "version": 8},
                                        "cr-schedule+json")
    district.publish(sched_topic, schedule, qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: len(received) == 2, 5, "the schedule to be handed over")
    oversized, handed = received
    assert handed == schedule and link.stats.messages_dropped == 1
    # the oversized one is handed over cut to a bounded prefix, with its real size
    assert isinstance(oversized, OversizedMessage) and oversized.size == 256 * 1024 + 1
    assert len(oversized) == 256 * 1024 + 1 and set(oversized) == {ord("x")}
    district.publish(sched_topic, b"y" * (3 * 256 * 1024), qos=1).wait_for_publish(5)
    wait_until(lambda: len(received) == 3, 5, "the second oversized schedule")
    assert len(received[2]) == 256 * 1024 + 1 and isinstance(received[2], OversizedMessage) and received[2].size == 3 * 256 * 1024
    # the link survived the handler's exception: an ack still applies
    district.publish(topic("kon-ray", STATION, "ack"), signed_ack(env.district_signer, STATION, 5),
                     qos=1, retain=True)
    wait_until(lambda: outbox.pending_count() == 0, 5, "the ack after a failing handler")


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
        link._cb_message(None, None, object())  # no .payload: must log, not raise into paho
        link._cb_connect(None, None, None, None, None)  # client None: subscribe fails, contained
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


def test_link_ack_beyond_last_seq_is_flagged(env: BrokerEnv, tmp_path: Path, stop_list: list[Any],
                                             caplog: pytest.LogCaptureFixture) -> None:
    """An ack for seqs the station never recorded (its outbox was replaced?) is applied only
    to the events it has, and logged loudly; events recorded afterwards stay unacked."""
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    append_events(outbox, 10)
    district = env.client("collector")
    stale = signed_ack(env.district_signer, STATION, 50, [60])
    district.publish(topic("kon-ray", STATION, "ack"), stale, qos=1, retain=True).wait_for_publish(5)
    link = make_link(config, outbox)
    link.start()
    stop_list.append(link)
    wait_until(lambda: outbox.pending_count() == 0, 10, "seqs 1..10 to be acked")
    append_events(outbox, 5)
    assert [seq for seq, _ in outbox.unacked(100)] == [11, 12, 13, 14, 15]
    assert "ack covers seqs this station never recorded" in caplog.text


def test_link_oversized_schedule_is_rejected_as_too_large_in_the_status(env: BrokerEnv, tmp_path: Path,
                                                                       stop_list: list[Any]) -> None:
    """An oversized schedule reaches the store (not only a log line) and the signed status
    the district sees over the broker names it; the schedule in force stays."""
    config = load_station_config(write_station_config(env, tmp_path / "st"))
    outbox = open_outbox(config)
    state = StationState()
    store = ScheduleStore(tmp_path / "schedule", district="kon-ray", station=STATION,
                          keys=config.district_keyring())
    stop_list.append(SimpleNamespace(stop=store.close))

    def on_schedule(raw: bytes) -> None:  # as the slot runner does
        store.offer(raw, datetime.now(UTC))
        state.set_schedule(ScheduleState(schedule_version=store.version, schedule_error=store.error))

    link = make_link(config, outbox, state=state, on_schedule=on_schedule, status_min_interval_s=0.2)
    link.start()
    stop_list.append(link)
    assert link.wait_connected(5)
    station_keys = KeyRing.from_jwks([env.stations[STATION].jwk])
    seen: list[dict[str, Any]] = []

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        seen.append(verify(bytes(message.payload), station_keys, "cr-status+json").payload)

    watcher = env.client("collector")
    watcher.on_message = on_message
    watcher.subscribe(topic("kon-ray", STATION, "status"), qos=1)
    size = 256 * 1024 + 4096
    env.client("collector").publish(topic("kon-ray", STATION, "schedule"), b"{" * size,
                                   qos=1).wait_for_publish(5)
    expected = f"too-large: {size} bytes, limit {256 * 1024}"
    wait_until(lambda: any(p["schedule_error"] == expected for p in list(seen)), 5,
               "a status naming the oversized schedule")
    assert store.error == expected and store.version is None
