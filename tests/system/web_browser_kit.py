"""What the console's browser test runs: a real district (Mosquitto, ``radio-district run``),
stations that publish over MQTT, alerts evaluated by the collector (:data:`ALERTS`), users made with ``radio-district user add``, a real
``radio-district web`` process on a free port, and Debian's Chromium driven by selenium.

:func:`start_site` gives a :class:`Site`; always ``site.close()``. :func:`chrome` gives a
headless Chromium with the network log on and downloads into a folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from mqtt_broker import BrokerEnv, make_env
from paho.mqtt.enums import CallbackAPIVersion
from schedule_testkit import make_wav
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from waiting import wait_until

from district_collector.admin.local_broker import free_port
from district_collector.config import load_district_config
from district_collector.store.opening import open_store
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import STATUS_TYP
from radio_protocol.timefmt import parse_rfc3339

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
PASSWORD = "mật khẩu đủ dài 2024"
USERS = {"chi": ("district", None), "koi": ("commune", "23335"), "quan-tri": ("admin", None)}
LOCATIONS = {KOI: {"lat": 14.62, "lon": 107.93}, RUONG: {"lat": 14.52, "lon": 108.02}}
ALERTS = {"offline_after_s": 1, "interval_s": 1}  # the collector's alert pass: a vanished station at once
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def cli(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "district_collector.cli", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=300, input=stdin)


@dataclass
class Site:
    env: BrokerEnv
    root: Path
    url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stations: dict[str, mqtt.Client] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.env.district_config

    def station_online(self, station: str, events: list[bytes]) -> None:
        """Connect ``station`` with its offline Last Will, publish its online status and events."""
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=station, protocol=mqtt.MQTTv5)
        c.username_pw_set(station, self.env.stations[station].password)
        c.will_set(_topic(station, "status"), self.status(station, "offline"), qos=1, retain=True)
        connected = threading.Event()
        c.on_connect = lambda _c, _u, _f, rc, _p: None if rc.is_failure else connected.set()
        c.connect("127.0.0.1", self.env.broker.port)
        c.loop_start()
        assert connected.wait(10), f"{station} could not connect"
        c.publish(_topic(station, "status"), self.status(station, "online"), qos=1, retain=True).wait_for_publish(10)
        for jws in events:
            c.publish(_topic(station, "event"), jws, qos=1).wait_for_publish(10)
        self.stations[station] = c

    def station_vanishes(self, station: str) -> None:
        """Drop the station's connection without DISCONNECT: the broker publishes its will."""
        c = self.stations.pop(station)
        c.loop_stop()
        sock = c.socket()
        assert sock is not None
        sock.close()

    def status(self, station: str, state: str) -> bytes:
        return self.env.stations[station].signer.sign(build_status(Status(
            station, state, parse_rfc3339("2024-03-05T07:00:00.000+07:00"), schedule_version=None,
            outbox_pending=0, last_seq=3, clock_synced=True)), STATUS_TYP)

    def stored_events(self) -> int:
        with open_store(load_district_config(self.config), read_only=True) as store:
            return store.count_events()

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        for c in self.stations.values():
            c.loop_stop()
            c.disconnect()
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.env.close()


def _topic(station: str, kind: str) -> str:
    return f"cr/v1/kon-ray/station/{station}/{kind}"


def start_site(root: Path) -> Site:
    env = make_env(root / "mqtt")
    try:
        return _start(env, root)
    except BaseException:
        env.close()
        raise


def _start(env: BrokerEnv, root: Path) -> Site:
    media = root / "media"
    media.mkdir()
    make_wav(media / "a.wav", seconds=0.2)
    data = yaml.safe_load(env.district_config.read_text(encoding="utf-8"))
    data["media"] = {"base_url": "https://district.example/media", "dir": str(media)}
    for entry in data["stations"]:
        entry["location"] = LOCATIONS[entry["id"]]
    data["alerts"] = ALERTS
    env.district_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for name, (role, commune) in USERS.items():
        secret = root / f"{name}.password"
        secret.write_text(PASSWORD + "\n", encoding="utf-8")
        secret.chmod(0o600)
        done = cli(env.district_config, "user", "add", name, "--role", role, "--password-file", str(secret),
                   *(["--commune", commune] if commune else []))
        assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    site = Site(env, root, f"http://127.0.0.1:{port}")
    logs = root / "logs"
    logs.mkdir()
    for name, args in (("collector", ["run"]), ("web", ["web", "--listen", f"127.0.0.1:{port}"])):
        out = (logs / f"{name}.log").open("wb")
        site.procs.append(subprocess.Popen(
            [sys.executable, "-m", "district_collector.cli", "-c", str(env.district_config), *args],
            stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1")))
    wait_until(lambda: _healthy(site), 60, f"the console on {site.url} (see {logs})")
    # An event published before the collector's subscription reaches nobody (this test
    # station never sends it again): wait for the SUBACK the collector logs.
    wait_until(lambda: "mqtt subscribed" in (logs / "collector.log").read_text(encoding="utf-8", errors="replace"),
               60, f"the collector's subscription (see {logs})")
    return site


def _healthy(site: Site) -> bool:
    for proc in site.procs:
        assert proc.poll() is None, f"{proc.args} exited {proc.returncode}"
    try:
        return bool(site.api("/healthz")["ok"])
    except OSError:
        return False


def chrome(downloads: Path, profile: Path) -> webdriver.Chrome:
    """Headless Debian Chromium (never a downloaded browser) with the performance log on."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--disable-sync", "--disable-default-apps", "--window-size=1280,900",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(120)
    return driver


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the browser asked for since the last call (from the performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
