"""``make demo``: a simulated Kon Rẫy district on one machine, start to evidence.

    python -m demo.run [--out demo-out] [--days N] [--stations N] [--fast] [--no-web]

Starts a real Mosquitto, the collector and one ``radio-station run`` process per commune
(mock GPIO pins, real PortAudio into ALSA's null device, a simulated clock), publishes
next month's catalogue, runs the month with two faults, then prints the frequency table,
writes the evidence bundle and verifies it, then serves the web console on the demo's
district until Ctrl-C (not with ``--no-web``). Every process it starts is ended on exit,
Ctrl-C or SIGTERM. Exit code 0 when every step worked and ``verify`` said verified.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from types import FrameType

from demo.console import serve_console
from demo.district import (
    COMMUNE_CODES_NOTE,
    COMMUNES,
    DISTRICT_CODE,
    DISTRICT_NAME,
    PROVINCE,
    TIMEZONE,
    DemoError,
    Paths,
    cli,
    next_month,
    run_cli,
    setup_district,
    write_catalogue,
)
from demo.options import parse_args
from demo.procs import ProcessSet, ProcessSetClosed
from demo.progress import Progress, expected_slots
from demo.proxy import LinkProxy
from demo.services import (
    CollectorView,
    MediaServer,
    outbox_last_seq,
    start_broker,
    start_collector,
)
from demo.timeline import StationPlan, plan_month, split_phases
from demo.try_commands import alsa_config_path, try_lines, write_wrappers
from district_collector.admin.local_broker import free_ports
from radio_protocol.clock import SystemClock
from radio_protocol.jose import jwk_thumbprint
from radio_protocol.timefmt import format_rfc3339, zone

MARKER = ".commune-radio-demo"
READY_TIMEOUT_S = 90.0
DRAIN_TIMEOUT_S = 60.0
PAUSE_S = 0.8
SIM_SECONDS = 40.0  # real seconds for the whole simulated month (not with --fast)
CHUNK_DAYS = 7  # paced mode: one station process per simulated week at most


@dataclass
class StationRun:
    """One station's progress through its plan (written by its thread)."""

    plan: StationPlan
    step: str = "waiting"
    error: str | None = None
    held_while_offline: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def fault_line(self) -> str | None:
        plan = self.plan
        return f"{plan.commune.name} ({plan.station}): {plan.fault}" if plan.fault else None


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.paths = Paths(Path(args.out).resolve())
        self.stop = threading.Event()
        self.procs: ProcessSet | None = None
        self.media: MediaServer | None = None
        self.proxies: dict[str, LinkProxy] = {}
        today = SystemClock().now().astimezone(zone(TIMEZONE)).date()
        self.first_day: date = next_month(today)
        days_in_month = (next_month(self.first_day) - self.first_day).days
        self.days = min(args.days or days_in_month, days_in_month)
        self.last_day = self.first_day + timedelta(days=self.days - 1)
        self.communes = COMMUNES[: args.stations]
        self.view = CollectorView(self.paths.database)
        self.env = dict(os.environ, ALSA_CONFIG_PATH=alsa_config_path(),
                        PYTHONUNBUFFERED="1", LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"))
        self.runs: list[StationRun] = []
        self.sim_go = threading.Event()  # set when every station has its schedule and media
        self.sim_started_mono = 0.0
        self.sim_seconds = 0.0 if args.fast else SIM_SECONDS
        self.chunk_days = 0 if args.fast else CHUNK_DAYS

    # --- the steps -------------------------------------------------------------------

    def run(self) -> int:
        p = self.paths
        say(f"Commune Radio demo: {DISTRICT_NAME}, {PROVINCE} (district code {DISTRICT_CODE}), "
            f"{len(self.communes)} commune stations")
        say(f"  simulating {self.first_day:%Y-%m-%d} .. {self.last_day:%Y-%m-%d} "
            f"(next month's catalogue); {COMMUNE_CODES_NOTE}")
        prepare_out(p.out)
        p.logs.mkdir(parents=True, exist_ok=True)
        self.procs = ProcessSet(p.logs)

        broker_port, collector_port = free_ports(2)  # the stations' listener, the collector's
        self.media = MediaServer(p.served_media)
        plans = plan_month(self.communes, self.first_day, self.days, TIMEZONE)
        for plan in plans:
            if plan.proxied:
                self.proxies[plan.station] = LinkProxy("127.0.0.1", broker_port)
        setup_district(p, self.communes, broker_port, self.media.port,
                       {s: px.port for s, px in self.proxies.items()}, collector_port)
        self._step(1, f"district key, broker config, {len(self.communes)} stations provisioned", p.district_dir)

        start_broker(self.procs, p, broker_port)
        start_collector(self.procs, p, self.env)
        self._step(2, f"Mosquitto on 127.0.0.1:{broker_port}, media on http://127.0.0.1:{self.media.port}, "
                f"collector running", p.logs)

        write_catalogue(p, self.first_day)
        out = run_cli("radio-district", ["-c", str(p.district_yaml), "schedule", "publish", str(p.catalogue)],
                      p.logs / "setup.log")
        schedules = self.view.schedule_payloads()
        expected = expected_slots(schedules, self.first_day, self.days)
        self._step(3, f"catalogue {self.first_day:%Y-%m} published: {len(schedules)} signed schedules, "
                f"{sum(expected.values())} slots in the period", p.catalogue)
        for line in out.splitlines():
            if "warning" in line:
                say(f"      {line.strip()}")

        self.runs = [StationRun(plan) for plan in plans]
        versions = {s: int(payload["version"]) for s, payload in schedules.items()}
        threads = [threading.Thread(target=self._station_thread, args=(r, versions.get(r.plan.station)),
                                    name=f"station-{r.plan.station}", daemon=True) for r in self.runs]
        for t in threads:
            t.start()
        for r in self.runs:
            if r.fault_line():
                say(f"      fault: {r.fault_line()}")
        self._step(4, "stations fetch their schedule and media, then run the month on simulated clocks", None)
        progress = Progress(self.view, expected, self.runs)
        while not all(r.done.is_set() for r in self.runs):
            if not self.sim_go.is_set() and all(r.step == "ready" or r.done.is_set() for r in self.runs):
                self.sim_started_mono = time.monotonic()  # every station has what it needs
                self.sim_go.set()
            progress.draw(self.simulated_day())
            time.sleep(0.2)
        progress.draw(None, final=True)
        failed = [r for r in self.runs if r.error]
        for r in failed:
            say(f"      {r.plan.station}: FAILED: {r.error}")
        self._fault_outcomes()

        period = ["--from", self.first_day.isoformat(), "--to", self.last_day.isoformat()]
        table = run_cli("radio-district", ["-c", str(p.district_yaml), "report", *period, "--format", "table"],
                        p.logs / "report.log")
        self._step(5, f"broadcast frequency {self.first_day:%d/%m}–{self.last_day:%d/%m/%Y} (docs/scoring.md)", None)
        print(table.rstrip(), flush=True)

        run_cli("radio-district", ["-c", str(p.district_yaml), "evidence", *period, "--out", str(p.evidence)],
                p.logs / "report.log")
        kid = self._district_kid()
        # "=" form: a key thumbprint may begin with "-", which argparse would take for an option.
        verify_args = ["verify", str(p.evidence)] + ([f"--district-key={kid}"] if kid else [])
        verdict = run_cli("radio-district", verify_args, p.logs / "report.log")
        lines = verdict.strip().splitlines() or ["(no output)"]
        checked = [line for line in lines if line.startswith("Checked:")]
        verdicts = [line for line in lines if "VERIFIED" in line]
        self._step(6, f"evidence bundle written; radio-district verify: {(verdicts or lines)[-1]}", p.evidence)
        for line in checked:
            say(f"      {line}")

        say("Where everything is:")
        for what, where in (("district config, key, collector DB", p.district_yaml.parent),
                            ("stations (station.yaml, key, outbox)", p.out / "stations"),
                            ("catalogue and media", p.catalogue.parent),
                            ("evidence bundle (PDF, XLSX, events, keys)", p.evidence),
                            ("logs of every process", p.logs)):
            say(f"  {what:<42} {rel(where)}")
        write_wrappers(p)
        for line in try_lines(p, self.communes[0].station, self.first_day, self.last_day, rel):
            say(line)
        if not self.args.no_web and not failed:
            serve_console(self.procs, p, self.env, self.stop, say)
        return 1 if failed else 0

    # --- one station's month ------------------------------------------------------------

    def _station_thread(self, r: StationRun, version: int | None) -> None:
        try:
            self._station_month(r, version)
        except ProcessSetClosed:
            r.error = r.error or "stopped"
        except Exception as exc:  # reported in the output; the other stations go on
            r.error = f"{type(exc).__name__}: {exc}"
        finally:
            r.done.set()

    def _station_month(self, r: StationRun, version: int | None) -> None:
        assert self.procs is not None
        station = r.plan.station
        conf = str(self.paths.station_yaml(station))
        env = dict(self.env, AUDIO_CAPTURE_FILE=str(self.paths.station_dir(station) / "last-airing.raw"))
        base = [*cli("radio-station"), "-c", conf, "run"]
        # 1. real clock: receive the retained schedule and fetch the media, like a Pi would
        r.step = "fetching"
        self.procs.start(station, base, env=env)
        self._wait_ready(station, version)
        self.procs.stop(station)
        r.step = "ready"
        self.sim_go.wait()
        # 2. the month, phase by phase, on a simulated clock paced to about SIM_SECONDS
        proxy = self.proxies.get(station)
        for i, phase in enumerate(split_phases(r.plan.phases, self.chunk_days)):
            self._wait_release(phase.start_at)
            if self.stop.is_set():
                return
            if proxy is not None:
                if phase.link_up:
                    proxy.restore()
                else:
                    proxy.cut()
            r.step = "airing" if phase.link_up else "offline"
            seq_before = outbox_last_seq(self.paths.station_dir(station))
            self.procs.start(station, [*base, "--simulate", format_rfc3339(phase.start_at),
                                       "--until", format_rfc3339(phase.until_at)], env=env)
            code = self.procs.wait(station)
            if code != 0 and not self.stop.is_set():
                raise DemoError(f"phase {i + 1} exited {code} (see {rel(self.paths.logs / station)}.log)")
            if not phase.link_up:  # every event of this phase waited in the outbox
                r.held_while_offline += outbox_last_seq(self.paths.station_dir(station)) - seq_before
        if proxy is not None:
            proxy.restore()
        # 3. real clock again until the district has every event (the catch-up)
        last = outbox_last_seq(self.paths.station_dir(station))
        if self.view.event_counts().get(station, 0) < last:
            r.step = "catching up"
            self.procs.start(station, base, env=env)
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while self.view.event_counts().get(station, 0) < last:
                if self.stop.is_set() or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.procs.stop(station)
        stored = self.view.event_counts().get(station, 0)
        if stored < last and not self.stop.is_set():
            raise DemoError(f"the district stored {stored} of {last} events")
        r.step = "done"

    def _fraction(self, at: datetime) -> float:
        start_at = datetime.combine(self.first_day, time_of_day(0), zone(TIMEZONE))
        return (at - start_at).total_seconds() / (self.days * 86400.0)

    def _wait_release(self, start_at: datetime) -> None:
        """Pace the month: a phase starting at simulated ``start_at`` waits its turn."""
        release = self.sim_started_mono + self._fraction(start_at) * self.sim_seconds
        while not self.stop.is_set() and time.monotonic() < release:
            time.sleep(0.05)

    def simulated_day(self) -> date | None:
        """The last simulated day stations may run to now (None before the start or in --fast)."""
        if not self.sim_go.is_set() or not self.sim_seconds:
            return None
        done = min(1.0, (time.monotonic() - self.sim_started_mono) / self.sim_seconds)
        horizon = (int(done * self.days) // self.chunk_days + 1) * self.chunk_days  # released up to
        return self.first_day + timedelta(days=min(self.days, horizon) - 1)

    def _wait_ready(self, station: str, version: int | None) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.stop.is_set():
            status = self.view.status(station)
            if (status and status.get("state") == "online" and status.get("schedule_version") == version
                    and not status.get("media_missing")):
                return
            if time.monotonic() > deadline:
                raise DemoError(f"no schedule v{version} with all media within {READY_TIMEOUT_S:.0f} s "
                                f"(last status: {status})")
            time.sleep(0.1)

    def _fault_outcomes(self) -> None:
        for r in self.runs:
            if not r.plan.fault:
                continue
            outcomes = self.view.outcomes(r.plan.station)
            not_completed = {k: v for k, v in outcomes.items() if k[0] != "completed"}
            parts = [f"{v} {o}" + (f" ({why})" if why else "") for (o, why), v in sorted(not_completed.items())]
            held = (f"{r.held_while_offline} events recorded while its link was down, delivered on "
                    "reconnect; " if r.plan.proxied else "")
            say(f"      {r.plan.station}: {held}{outcomes.get(('completed', None), 0)} completed"
                + (", " + ", ".join(parts) if parts else ""))

    def _district_kid(self) -> str | None:
        import json

        log = (self.paths.logs / "setup.log").read_text(encoding="utf-8")
        for line in log.splitlines():
            if line.startswith("{") and '"kty"' in line:
                try:
                    return jwk_thumbprint(json.loads(line))
                except (ValueError, KeyError):
                    return None
        return None

    def _step(self, n: int, text: str, where: Path | None) -> None:
        if not self.args.fast:
            time.sleep(PAUSE_S)  # a moment to read the previous step
        step(n, text, where)

    # --- cleanup -----------------------------------------------------------------------

    def close(self) -> None:
        self.stop.set()
        self.sim_go.set()  # release station threads still waiting to start their month
        if self.procs is not None:
            self.procs.close()
        for proxy in self.proxies.values():
            proxy.close()
        if self.media is not None:
            self.media.close()


def say(text: str) -> None:
    print(text, flush=True)


def step(n: int, text: str, where: Path | None) -> None:
    say(f"[{n}/6] {text}" + (f"  ({rel(where)})" if where else ""))


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def prepare_out(out: Path) -> None:
    """Start from an empty output directory; only ever delete an earlier demo's output."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise DemoError(f"{out} exists and is not a demo output directory: choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `make demo`; deleted by the next run\n", encoding="utf-8")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    demo = Demo(args)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)  # also when started with SIGINT ignored (a `&` job)
    code = 1
    try:
        code = demo.run()
    except KeyboardInterrupt:
        say("\ninterrupted: stopping every process the demo started ...")
        code = 130
    except DemoError as exc:
        say(f"demo failed: {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return code


if __name__ == "__main__":
    sys.exit(main())
