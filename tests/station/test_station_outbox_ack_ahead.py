"""A station whose outbox AND marker were both replaced learns its place in the chain from
the district's retained, signed ack: it continues after the seqs the district holds, with a
signed ``outbox-reset`` event, instead of reusing them (docs/protocol.md, outbox-reset)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory
from mqtt_broker import BrokerEnv
from test_link_messages import signed_ack
from test_link_support import STATION, write_station_config
from waiting import wait_until

from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import load_station_config
from firmware_daemon.daemon import Daemon
from radio_protocol.jose import parse_jws
from radio_protocol.messages.outbox_reset import parse_outbox_reset
from radio_protocol.topics import topic


def _last_seq(path: Path) -> int:
    if not path.exists():
        return 0
    with Outbox(path) as outbox:
        return outbox.last_seq()


def test_station_outbox_and_marker_lost_continue_after_the_districts_ack(
        mqtt_env: BrokerEnv, tmp_path: Path) -> None:
    district = mqtt_env.client("collector")  # the district holds seqs 1..50 of this station
    district.publish(topic("kon-ray", STATION, "ack"), signed_ack(mqtt_env.district_signer, STATION, 50),
                     qos=1, retain=True).wait_for_publish(5)
    config = load_station_config(write_station_config(mqtt_env, tmp_path / "st"))  # no outbox, no marker
    daemon = Daemon(config, pin_factory=MockFactory())
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run()), daemon=True)
    thread.start()
    try:
        wait_until(lambda: _last_seq(config.outbox_path) == 51, 20, "the outbox-reset event after the ack")
    finally:
        daemon.request_stop("test")
        thread.join(15)
    assert codes == [0]
    with Outbox(config.outbox_path) as outbox:
        payloads: list[dict[str, Any]] = [json.loads(parse_jws(jws)[2]) for jws in outbox.events(0)]
    assert [p["seq"] for p in payloads] == [51]
    reset = parse_outbox_reset(payloads[0])
    assert (reset.reason, reset.last_known_seq, reset.found_seq, reset.prev) == ("outbox-behind", 50, 0, None)
