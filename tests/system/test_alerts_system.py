"""Alerts end to end with real parts: a real Mosquitto, a real ``radio-district run`` process
with an ``alerts:`` section, a real station daemon process (``radio-station run``), an
aiosmtpd SMTP server and an HTTP webhook receiver on loopback.

kill -9 the station -> a station-offline mail and webhook within offline_after_s + 30 s
(plus the broker's 1.5 keep-alives before it publishes the station's will); restart it ->
resolved. With the SMTP relay refusing and the collector restarted mid-way, every
notification arrives once, in order, when the relay is back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from alerts_kit import KOI, SECRET, SmtpServer, WebhookReceiver
from mqtt_broker import BrokerEnv, make_env
from test_link_support import write_station_config
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
OFFLINE_AFTER_S = 5
KEEPALIVE_S = 5  # write_station_config's
DEADLINE_S = OFFLINE_AFTER_S + 30 + 1.5 * KEEPALIVE_S


@pytest.fixture
def env(tmp_path: Path) -> Iterator[BrokerEnv]:
    e = make_env(tmp_path / "mqtt")
    try:
        yield e
    finally:
        e.close()


def _configure(env: BrokerEnv, smtp: SmtpServer, hook: WebhookReceiver) -> Path:
    secret = env.root / "district" / "webhook.secret"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    secret.chmod(0o600)
    data = yaml.safe_load(env.district_config.read_text(encoding="utf-8"))
    data["alerts"] = {
        "interval_s": 1, "offline_after_s": OFFLINE_AFTER_S, "remind_after_s": None,
        "email": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "starttls": False,
                  "from": "canh-bao@kon-ray.example", "to": ["vhtt@kon-ray.example"]},
        "webhook": {"url": hook.url, "secret_file": str(secret)},
    }
    env.district_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return env.district_config


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    penv = dict(os.environ, PYTHONPATH=str(REPO))
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", *argv], stdout=out, stderr=out, env=penv, cwd=REPO)


def _mails(smtp: SmtpServer) -> list[EmailMessage]:
    """The station-offline mails (the real date may also put a week-at-risk in the queue)."""
    return [m for m in smtp.messages if m["X-Commune-Radio-Kind"] == "station-offline"]


def _subjects(smtp: SmtpServer) -> list[str]:
    return [str(m["Subject"]) for m in _mails(smtp)]


def _states(hook: WebhookReceiver) -> list[tuple[str, str, str]]:
    return [(h["kind"], h["state"], h["station"]) for h in hook.received if h["kind"] == "station-offline"]


@pytest.mark.timeout(300)
def test_alerts_station_killed_restarted_smtp_down_collector_restarted(
        env: BrokerEnv, tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    smtp, hook = SmtpServer().start(), WebhookReceiver().start()
    try:
        config = _configure(env, smtp, hook)
        station_cfg = write_station_config(env, tmp_path / "st")
        district_log, station_log = tmp_path / "district.log", tmp_path / "station.log"
        collector = _spawn(["district_collector.cli", "-c", str(config), "run"], district_log)
        procs.append(collector)
        wait_until(lambda: "alerts started" in district_log.read_text(), 30, "the collector's alert loop")
        station = _spawn(["firmware_daemon.cli", "-c", str(station_cfg), "run"], station_log)
        procs.append(station)
        wait_until(lambda: "alert" in district_log.read_text() or _online(config), 60, "the station online")
        wait_until(lambda: _online(config), 60, "the station's online status in the store")

        station.kill()
        assert station.wait(5) == -9
        wait_until(lambda: len(_mails(smtp)) >= 1 and _states(hook), DEADLINE_S,
                   "the station-offline mail and webhook", step_s=0.2)
        assert "Trạm mất kết nối" in _subjects(smtp)[0] and KOI in _subjects(smtp)[0]
        assert _states(hook) == [("station-offline", "open", KOI)]

        station = _spawn(["firmware_daemon.cli", "-c", str(station_cfg), "run"], station_log)
        procs.append(station)
        wait_until(lambda: len(_states(hook)) >= 2 and len(_mails(smtp)) >= 2, 60,
                   "the resolved mail and webhook", step_s=0.2)
        assert _states(hook)[1] == ("station-offline", "resolved", KOI)
        assert "ĐÃ KHẮC PHỤC" in _subjects(smtp)[1]

        # the relay refuses; the station drops again; the collector restarts mid-way
        smtp.refuse = True
        station.kill()
        station.wait(5)
        wait_until(lambda: len(_states(hook)) >= 3, DEADLINE_S, "the second outage's webhook", step_s=0.2)
        wait_until(lambda: smtp.refused >= 1, 60, "a refused mail")
        assert len(_mails(smtp)) == 2
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0
        collector = _spawn(["district_collector.cli", "-c", str(config), "run"], district_log)
        procs.append(collector)
        station = _spawn(["firmware_daemon.cli", "-c", str(station_cfg), "run"], station_log)
        procs.append(station)
        wait_until(lambda: len(_states(hook)) >= 4, 90, "the second resolution's webhook", step_s=0.2)
        smtp.refuse = False
        wait_until(lambda: len(_mails(smtp)) >= 4, 120, "the held mails once the relay is back", step_s=0.2)
        station.terminate()
        station.wait(10)
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0
    finally:
        smtp.stop()
        hook.stop()
    assert _states(hook) == [("station-offline", s, KOI) for s in ("open", "resolved", "open", "resolved")]
    assert len(_mails(smtp)) == 4  # each once
    ids = [m["X-Commune-Radio-Notification"] for m in smtp.messages]
    assert ids == sorted(ids, key=int) and len(set(ids)) == len(ids)  # every mail in queue order, none twice
    assert ["ĐÃ KHẮC PHỤC" in s for s in _subjects(smtp)] == [False, True, False, True]
    assert "Traceback" not in district_log.read_text()


def _online(config: Path) -> bool:
    from district_collector.config import load_district_config
    from district_collector.store.opening import open_store
    from district_collector.store.sqlite import NoStoreError

    try:
        with open_store(load_district_config(config), read_only=True) as store:
            row = store.status(KOI)
    except NoStoreError:
        return False
    return row is not None and row.state == "online"
