"""Helpers for the station link tests (no tests here), and a station subprocess.

Run as a script it is a station: ``python tests/test_link_support.py CONFIG TOTAL PER_TICK`` runs the
real :class:`firmware_daemon.daemon.Daemon` (``radio-station run``'s service, with its
MQTT link and outbox) plus a timer that appends signed airing events to the outbox,
``PER_TICK`` every 20 ms, until ``TOTAL`` exist; then it keeps running (delivering) until
SIGTERM. The kill tests SIGKILL it at random points and start it again.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
STATION = "dak-koi-01"

if __name__ == "__main__":  # the subprocess: make the repo and tests/ importable
    sys.path[:0] = [str(REPO), str(REPO / "tests")]


from firmware_daemon.airing.outbox import Outbox  # noqa: E402
from firmware_daemon.config import StationConfig, load_station_config  # noqa: E402
from firmware_daemon.link.client import StationLink  # noqa: E402
from firmware_daemon.link.settings import settings_from_config  # noqa: E402
from firmware_daemon.service.status import StationState, StatusBuilder  # noqa: E402
from radio_protocol.clock import Clock, SystemClock  # noqa: E402
from radio_protocol.jose import Signer, load_or_create_private_key, load_private_key  # noqa: E402


def write_station_config(env: Any, root: Path, *, station: str = STATION, mqtt: bool = True,
                         port: int | None = None, tls: bool = False, republish_s: float = 2.0,
                         district_keys: list[dict[str, str]] | None = None) -> Path:
    """A station YAML under ``root`` whose key is the one the district registered."""
    st = env.stations[station]
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(st.key_path, data_dir / "station.key")
    os.chmod(data_dir / "station.key", 0o600)
    cfg: dict[str, Any] = {
        "station": {"id": station, "district": "kon-ray", "commune": st.commune},
        "timezone": "Asia/Ho_Chi_Minh",
        "data_dir": str(data_dir),
        "amplifier": {"pin": 17, "active_high": True, "warmup_s": 0.0, "tail_s": 0.0},
        "gpio": {"pin_factory": "mock"},
        "audio": {"device": "default"},
        "district_keys": [env.district_jwk] if district_keys is None else district_keys,
        "outbox": {"retention_days": 400},
    }
    if mqtt:
        cfg["mqtt"] = {
            "host": "localhost" if tls else "127.0.0.1",
            "port": port or (env.broker.tls_port if tls else env.broker.port),
            "username": station, "password_file": str(st.password_file),
            "tls": {"ca": str(env.broker.ca)} if tls else None,
            "keepalive_s": 5, "republish_s": republish_s,
        }
    path = root / "station.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def minimal_station_yaml(root: Path, *, key: bool = True, **sections: Any) -> Path:
    """``root/station.yaml``: a station with mock GPIO plus the top-level ``sections`` given
    (e.g. ``amplifier={"pin": 17}``); its signing key ``root/data/station.key`` is created
    unless ``key`` is False. No broker needed (no ``mqtt`` section unless given)."""
    data_dir = root / "data"
    if key:
        load_or_create_private_key(data_dir / "station.key")
    cfg: dict[str, Any] = {"station": {"id": STATION, "district": "kon-ray", "commune": "23335"},
                           "data_dir": str(data_dir), "gpio": {"pin_factory": "mock"}, **sections}
    path = root / "station.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def open_outbox(config: StationConfig, clock: Clock | None = None) -> Outbox:
    return Outbox(config.outbox_path, Signer(load_private_key(config.key_path)), clock)


def append_events(outbox: Outbox, count: int, station: str = STATION, commune: str = "23335") -> int:
    """Append ``count`` docs/protocol.md airing events; return the last seq."""
    from mqtt_broker import make_airing_payload

    last = 0
    for _ in range(count):
        last = outbox.append(lambda seq, prev: make_airing_payload(station, seq, prev, commune=commune)).seq
    return last


def make_link(config: StationConfig, outbox: Outbox, *, clock: Clock | None = None,
              state: StationState | None = None, on_schedule: Callable[[bytes], None] | None = None,
              **overrides: Any) -> StationLink:
    """A link as the daemon builds it (not started); ``overrides`` replace LinkSettings fields."""
    clock = clock or SystemClock()
    settings = settings_from_config(config)
    assert settings is not None
    settings = dataclasses.replace(settings, **{"reconnect_max_s": 1, **overrides})
    status = StatusBuilder(station=config.station.id, signer=Signer(load_private_key(config.key_path)),
                           clock=clock, state=state or StationState(), clock_synced=lambda: True,
                           tz=config.tz)
    return StationLink(settings, district_keys=config.district_keyring(),
                       outbox_factory=lambda: outbox, status=status, clock=clock,
                       on_schedule=on_schedule)


def spawn_station(config_path: Path, total: int, log_path: Path, per_tick: int = 2) -> subprocess.Popen[bytes]:
    """Start this file as a station subprocess (see the module doc); it appends
    ``per_tick`` events every 20 ms until ``total``."""
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}")
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, __file__, str(config_path), str(total), str(per_tick)],
                                stdout=log, stderr=log, env=env, cwd=REPO)


def _station_main(config_path: str, total: int, per_tick: int) -> int:
    import logging

    from firmware_daemon.daemon import Daemon

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_station_config(config_path)
    daemon = Daemon(config)

    def append_some(now_mono: float) -> float | None:
        outbox = daemon.outbox
        assert outbox is not None
        if outbox.last_seq() >= total:
            return None
        append_events(outbox, min(per_tick, total - outbox.last_seq()), config.station.id, config.station.commune)
        daemon.event_recorded()
        return now_mono + 0.02

    daemon.add_timer("test-appender", append_some)
    return daemon.run()


if __name__ == "__main__":
    raise SystemExit(_station_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
