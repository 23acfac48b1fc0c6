"""Set up the demo district of Kon Rẫy with the project's own commands.

Everything goes through ``radio-district`` / ``radio-station`` as a technician would run
them: ``keygen``, ``broker-config``, ``provision`` (one station per commune, key made at
the office) and a monthly catalogue for ``schedule publish``. What a bench setup needs in
each ``station.yaml`` (a data directory next to it, gpiozero's mock pins, a plain link to
the loopback broker) comes from provision's own options: ``--data-dir . --pin-factory mock
--plain-mqtt``; nothing is edited by hand.
"""

from __future__ import annotations

import calendar
import getpass
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml

from demo.media import SEGMENT_TEXTS, make_segment
from radio_protocol.timefmt import zone

DISTRICT_ID = "kon-ray"
DISTRICT_NAME = "Huyện Kon Rẫy"
DISTRICT_CODE = "614"
PROVINCE = "Kon Tum"
TIMEZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Commune:
    station: str
    code: str  # EXAMPLE codes: not taken from the official list (see COMMUNE_CODES_NOTE)
    name: str


COMMUNE_CODES_NOTE = ("commune codes are EXAMPLES, not the official GSO codes: "
                      "use the official list in a real deployment")

COMMUNES: tuple[Commune, ...] = (
    Commune("dak-rve-01", "23317", "Thị trấn Đăk Rve"),
    Commune("dak-koi-01", "23335", "Xã Đăk Kôi"),
    Commune("dak-pne-01", "23320", "Xã Đăk Pne"),
    Commune("dak-ruong-01", "23326", "Xã Đăk Ruồng"),
    Commune("dak-to-lung-01", "23329", "Xã Đăk Tơ Lung"),
    Commune("dak-to-re-01", "23344", "Xã Đăk Tờ Re"),
    Commune("tan-lap-01", "23338", "Xã Tân Lập"),
)

SEGMENT_TITLES = {
    "cds-policy": "Chủ trương, chính sách về chuyển đổi số",
    "cds-dx-day": "Hưởng ứng Ngày Chuyển đổi số quốc gia 10/10",
    "cds-models": "Mô hình hay về chuyển đổi số",
    "cds-benefits": "Lợi ích của chuyển đổi số đối với người dân",
    "cds-ecommerce": "Đưa nông sản lên sàn thương mại điện tử",
}


@dataclass(frozen=True)
class Paths:
    """Where the demo writes (all under ``out``)."""

    out: Path

    @property
    def district_dir(self) -> Path:
        return self.out / "district"

    @property
    def district_yaml(self) -> Path:
        return self.district_dir / "district.yaml"

    @property
    def broker_dir(self) -> Path:
        return self.out / "broker"

    @property
    def media_src(self) -> Path:
        return self.out / "catalogue" / "media"

    @property
    def catalogue(self) -> Path:
        return self.out / "catalogue" / "catalogue.yaml"

    @property
    def served_media(self) -> Path:
        return self.district_dir / "media"

    @property
    def database(self) -> Path:
        return self.district_dir / "collector.sqlite3"

    @property
    def logs(self) -> Path:
        return self.out / "logs"

    @property
    def evidence(self) -> Path:
        return self.out / "evidence"

    def station_dir(self, station: str) -> Path:
        return self.out / "stations" / station

    def station_yaml(self, station: str) -> Path:
        return self.station_dir(station) / "station.yaml"


def next_month(today: date) -> date:
    """The first day of the month after ``today``: the catalogue the office prepares now."""
    return date(today.year + (today.month == 12), today.month % 12 + 1, 1)


def month_start_at(first_day: date) -> datetime:
    return datetime.combine(first_day, time(0), zone(TIMEZONE))


def cli(program: str) -> list[str]:
    """argv prefix of a project command, run with this interpreter (works without PATH)."""
    module = {"radio-district": "district_collector.cli", "radio-station": "firmware_daemon.cli"}[program]
    return [sys.executable, "-m", module]


def run_cli(program: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> str:
    """Run one command to completion; its output goes to ``log``; a failure raises with it."""
    proc = subprocess.run([*cli(program), *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {program} {' '.join(args)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise DemoError(f"{program} {' '.join(args[:4])}... exited {proc.returncode}:\n"
                        f"{(proc.stderr or proc.stdout).strip()[-2000:]}\n(see {log})")
    return proc.stdout


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where its log is."""


def write_district_yaml(paths: Paths, collector_port: int, http_port: int) -> None:
    """The demo's district.yaml: the collector connects to its own listener, ``collector_port``."""
    cfg = {
        "district": {"id": DISTRICT_ID, "name": DISTRICT_NAME, "timezone": TIMEZONE},
        "database": "collector.sqlite3",
        "signing_key": "district.key",
        "mqtt": {"host": "127.0.0.1", "port": collector_port, "username": "collector",
                 "password_file": str(paths.broker_dir / "credentials" / "collector.password"),
                 "tls": None, "client_id": f"collector-{DISTRICT_ID}", "reconnect_max_s": 2},
        "ack": {"max_batch": 500},
        "media": {"base_url": f"http://127.0.0.1:{http_port}", "dir": "media"},
        "stations": [],
    }
    header = (f"# Demo district: {DISTRICT_NAME}, {PROVINCE} (district code {DISTRICT_CODE}).\n"
              f"# Written by `make demo`; stations are added by `radio-district provision`.\n"
              f"# NOTE: {COMMUNE_CODES_NOTE}.\n")
    paths.district_dir.mkdir(parents=True, exist_ok=True)
    paths.district_yaml.write_text(
        header + yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")


def setup_district(paths: Paths, communes: tuple[Commune, ...], broker_port: int,
                   http_port: int, station_ports: dict[str, int], collector_port: int) -> None:
    """keygen, broker-config, provision each commune's station (bench options: see the module doc).
    The stations log in on the broker's plain listener ``broker_port`` (or their proxy's port
    in ``station_ports``), the collector on its own listener ``collector_port``."""
    log = paths.logs / "setup.log"
    dcfg = ["-c", str(paths.district_yaml)]
    write_district_yaml(paths, collector_port, http_port)
    run_cli("radio-district", [*dcfg, "keygen"], log)
    run_cli("radio-district", [*dcfg, "broker-config", str(paths.broker_dir), "--no-tls",
                               "--plain-port", str(broker_port), "--user", getpass.getuser(),
                               "--autosave", "1", "--persistence-dir", str(paths.broker_dir / "data")], log)
    for commune in communes:
        out = paths.station_dir(commune.station)
        run_cli("radio-district", [
            *dcfg, "provision", commune.station, "--commune", commune.code, "--name", commune.name,
            "--out", str(out), "--create-key", "--broker-host", "127.0.0.1",
            "--broker-port", str(station_ports.get(commune.station, broker_port)),
            "--broker-dir", str(paths.broker_dir),
            # bench: data_dir next to station.yaml (and the station.key made here), mock pins,
            # plain MQTT to the loopback broker; audio.device stays "default", which
            # config/asound-demo.conf points at ALSA's null device
            "--data-dir", ".", "--pin-factory", "mock", "--plain-mqtt"], log)
        with paths.station_yaml(commune.station).open("a", encoding="utf-8") as fh:
            fh.write("media:\n  allow_local_hosts: true  # the demo's media server is on 127.0.0.1\n")


def make_media(paths: Paths) -> dict[str, Path]:
    """One spoken Vietnamese segment per topic (WAV; MP3 for the e-commerce one)."""
    paths.media_src.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, text in SEGMENT_TEXTS.items():
        wav = paths.media_src / f"{name}.wav"
        mp3 = paths.media_src / f"{name}.mp3" if name == "cds-ecommerce" else None
        files[name] = make_segment(text, wav, mp3)
    return files


def catalogue_text(first_day: date, media: dict[str, Path]) -> str:
    """The month's catalogue: three airings a week, two extra dates, in office YAML."""
    month = first_day.strftime("%Y-%m")
    last = calendar.monthrange(first_day.year, first_day.month)[1]
    used = ["cds-policy", "cds-benefits", "cds-ecommerce", "cds-models"]
    if first_day.month == 10:
        used.append("cds-dx-day")
    seg_id = {name: f"{name}-{month}" for name in used}
    lines = [f"# Danh mục phát sóng chuyên mục Chuyển đổi số — tháng {first_day.month}/{first_day.year}",
             f"# {DISTRICT_NAME}. Written by `make demo`.",
             f"month: {month}", f"timezone: {TIMEZONE}", f"title: \"Chuyển đổi số tháng {month}\"",
             "segments:"]
    for name in used:
        lines += [f"  - id: {seg_id[name]}", f"    title: \"{SEGMENT_TITLES[name]}\"",
                  "    program: chuyen-doi-so", f"    topic: {name.removeprefix('cds-').replace('dx-day', 'national-dx-day')}",
                  f"    media: media/{media[name].name}"]
    mid = first_day + timedelta(days=min(14, last - 1))
    lines += ["slots:",
              f"  - {{segment: {seg_id['cds-policy']}, every: [tuesday], at: \"06:30\"}}",
              f"  - {{segment: {seg_id['cds-benefits']}, every: [friday], at: \"17:00\"}}",
              f"  - {{segment: {seg_id['cds-ecommerce']}, every: [sunday], at: \"19:00\"}}",
              f"  - {{segment: {seg_id['cds-models']}, dates: [{first_day.isoformat()}, {mid.isoformat()}], at: \"07:00\"}}"]
    if "cds-dx-day" in seg_id:
        lines.append(f"  - {{segment: {seg_id['cds-dx-day']}, dates: [{first_day.year}-10-10], at: \"17:00\"}}")
    return "\n".join(lines) + "\n"


def write_catalogue(paths: Paths, first_day: date) -> None:
    media = make_media(paths)
    paths.catalogue.write_text(catalogue_text(first_day, media), encoding="utf-8")
