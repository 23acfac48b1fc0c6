"""``run --worker-group``: names checked before anything runs, worker ids and client ids,
the default worker id's host slots, and an ACL that lets shared subscriptions through."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import BrokerEnv, make_district
from paho.mqtt.subscribeoptions import SubscribeOptions

from district_collector.intake.workers import WorkerGroup, WorkerGroupError, join_group


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "district_collector.cli", "-c", str(config), "run", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", [["--worker-group", "a/b"], ["--worker-group", "#"],
                                  ["--worker-group", "g", "--worker-id", "x+y"], ["--worker-id", "w1"]])
def test_bad_group_or_worker_id_is_refused_in_one_line(tmp_path: Path, args: list[str]) -> None:
    kit = make_district(tmp_path / "d")
    done = _run(kit.district_config, *args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert ("worker group" in done.stderr or "worker id" in done.stderr or "--worker-group" in done.stderr)


def test_worker_client_id_and_shared_filters() -> None:
    group = WorkerGroup("ingest", "host-2")
    assert group.client_id("collector-kon-ray") == "collector-kon-ray-ingest-host-2"
    assert group.share("cr/v1/kon-ray/station/+/event") == "$share/ingest/cr/v1/kon-ray/station/+/event"


def test_default_worker_ids_take_the_lowest_free_slot(tmp_path: Path) -> None:
    first, lock1 = join_group("kon-ray", "g", None, lock_dir=tmp_path)
    second, lock2 = join_group("kon-ray", "g", None, lock_dir=tmp_path)
    assert first.worker_id.endswith("-1") and second.worker_id.endswith("-2")
    assert lock1 is not None and lock2 is not None
    lock1.release()  # that worker died: its restart takes slot 1 back (and its session)
    again, lock3 = join_group("kon-ray", "g", None, lock_dir=tmp_path)
    assert again == first
    other, lock4 = join_group("kon-ray", "other", None, lock_dir=tmp_path)
    assert other.worker_id.endswith("-1")
    for lock in (lock2, lock3, lock4):
        assert lock is not None
        lock.release()
    with pytest.raises(WorkerGroupError):
        join_group("kon-ray", "g g", None, lock_dir=tmp_path)
    with pytest.raises(WorkerGroupError):
        join_group("kon-ray", "g.1", None, lock_dir=tmp_path)  # a group name goes into $share/NAME/
    assert join_group("kon-ray", "g", "db1.kon-tum.example-2")[0].worker_id == "db1.kon-tum.example-2"


def test_generated_acl_delivers_shared_subscriptions(mqtt_env: BrokerEnv) -> None:
    """The ACL names no ``$share``: Mosquitto 2.0 grants the subscription and checks each
    delivery's topic against the user's ``topic read`` lines (measured here), so the
    collector's shared subscription gets events, and a schedule (write-only for it) never."""
    got: list[str] = []
    granted = threading.Event()
    event_seen = threading.Event()
    client = mqtt_env.client("collector", client_id="collector-kon-ray-g-w1")
    client.on_subscribe = lambda *_a: granted.set()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.topic)
        if msg.topic.endswith("/event"):
            event_seen.set()

    client.on_message = on_message
    client.subscribe([("$share/g/cr/v1/kon-ray/station/+/event", SubscribeOptions(qos=1)),
                      ("$share/g/cr/v1/kon-ray/station/+/schedule", SubscribeOptions(qos=1))])
    assert granted.wait(10)
    client.publish("cr/v1/kon-ray/station/dak-koi-01/schedule", b"s", qos=1).wait_for_publish(10)
    station = mqtt_env.client("dak-koi-01", client_id="dak-koi-01")
    station.publish("cr/v1/kon-ray/station/dak-koi-01/event", mqtt_env.chain("dak-koi-01", 1)[0],
                    qos=1).wait_for_publish(10)
    assert event_seen.wait(10)
    assert got == ["cr/v1/kon-ray/station/dak-koi-01/event"]  # the schedule, sent first, never came
