"""One load-generator process: a slice of the province's stations, driven phase by phase.

``python -m bench.loadgen.driver SPEC.json`` reads its stations (id, commune, key file,
broker password file) and the broker address from the spec, then obeys one command per
line on stdin, answering on stdout when the phase is done, so several drivers move
through the scenario together:

- ``connect``: every station logs in and subscribes to its ack topic -> ``connected``
- ``steady N RATE``: N events per station, signed when sent, at RATE events/s for this
  process, then wait until all are covered -> ``covered``
- ``outage K``: every station disconnects, then signs K events each (its backlog, kept as
  a real station keeps its outbox) -> ``down``
- ``storm T0 WINDOW``: stations come back spread evenly over WINDOW s from wall time T0,
  each sending its backlog on connect -> ``covered`` (or ``timeout``)
- ``finish PATH``: write what was sent and when each event was covered -> ``written``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.district import airing_payload
from bench.loadgen.fleet import Fleet, SimStation
from radio_protocol.jose import Signer, load_private_key

STARTED = 1_750_000_000.0  # the simulated airings' clock: a fixed day, one minute apart


def _started_at(seq: int) -> str:
    t = time.gmtime(STARTED + 60 * seq)
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", t)


def _payload(station: str, commune: str, seq: int, prev: str | None) -> dict[str, Any]:
    return airing_payload(station, commune, seq, prev, _started_at(seq))


def _say(word: str) -> None:
    print(word, flush=True)


def _stations(spec: dict[str, Any]) -> list[SimStation]:
    out: list[SimStation] = []
    for s in spec["stations"]:
        signer = Signer(load_private_key(Path(s["key"])))
        password = Path(s["password_file"]).read_text(encoding="utf-8").strip()
        out.append(SimStation(s["id"], s["commune"], spec["district"], signer, password))
    return out


def _connect_all(fleet: Fleet, per_s: float) -> None:
    gap = 1.0 / per_s
    next_at = time.monotonic()
    for st in fleet.stations:
        while time.monotonic() < next_at:
            fleet.step(0.0)
        fleet.connect(st)
        next_at += gap


def _steady(fleet: Fleet, count: int, rate: float, timeout_s: float) -> bool:
    gap = 1.0 / rate
    next_at = time.monotonic()
    for _ in range(count):
        for st in fleet.stations:
            while time.monotonic() < next_at:
                fleet.step(min(0.01, max(0.0, next_at - time.monotonic())))
            fleet.publish(st, st.sign_next(_payload, "steady"), time.time())
            next_at += gap
    return fleet.run_until(fleet.all_covered, timeout_s)


def _storm(fleet: Fleet, t0: float, window_s: float, timeout_s: float) -> bool:
    n = len(fleet.stations)
    for i, st in enumerate(fleet.stations):
        at = t0 + window_s * i / max(1, n)
        while time.time() < at:
            fleet.step(min(0.01, max(0.0, at - time.time())))
        fleet.connect(st)
    return fleet.run_until(fleet.all_covered, timeout_s)


def _result(fleet: Fleet) -> dict[str, Any]:
    return {
        "stations": {
            st.id: {"events": [[e.seq, e.sha256, e.phase, e.signed_at, e.acked_at]
                               for e in sorted(st.events.values(), key=lambda e: e.seq)],
                    "connects": st.connects, "republished": st.republished, "bad_acks": st.bad_acks}
            for st in fleet.stations},
        "connect_errors": fleet.connect_errors,
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    fleet = Fleet(_stations(spec), spec["host"], spec["port"], spec["district_jwk"],
                  republish_s=spec.get("republish_s", 20.0))
    timeout_s = float(spec.get("timeout_s", 600))
    for line in sys.stdin:
        word, *args = line.split()
        if word == "connect":
            _connect_all(fleet, float(spec.get("connects_per_s", 1000)))
            _say("connected" if fleet.run_until(fleet.all_connected, timeout_s) else "timeout")
        elif word == "steady":
            _say("covered" if _steady(fleet, int(args[0]), float(args[1]), timeout_s) else "timeout")
        elif word == "outage":
            for st in fleet.stations:
                fleet.disconnect(st)
            fleet.run_until(lambda: not any(st.connected for st in fleet.stations), 60)
            for st in fleet.stations:
                for _ in range(int(args[0])):
                    st.sign_next(_payload, "storm")
            _say("down")
        elif word == "storm":
            ok = _storm(fleet, float(args[0]), float(args[1]), timeout_s)
            _say("covered" if ok else "timeout")
        elif word == "finish":
            Path(args[0]).write_text(json.dumps(_result(fleet)), encoding="utf-8")
            fleet.close()
            _say("written")
            return 0
    fleet.close()
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
