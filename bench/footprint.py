"""Figure 6: the station's idle footprint.

The real ``radio-station run`` with a month's schedule (3 segments, two slots a day for
31 days, the first one tomorrow: nothing airs during the measurement), mock GPIO, the
ALSA file device, and its MQTT link connected to a real Mosquitto. After it has settled,
CPU % (user+sys from /proc over the window) and RSS are read.

Baseline in the same run and window: ``mosquitto_sub`` idle on the same broker (a
minimal C MQTT client: the floor for "connected and waiting").
"""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta
from typing import Any

from bench.common import Figure, median, proc_cpu_s, proc_rss_mb, stop_process
from bench.district import DISTRICT, OBSERVER, make_district
from bench.ontime import make_tone
from bench.station import TZ, BenchStation
from radio_protocol.clock import SystemClock

TARGET_CPU_PCT = 1.0
STATION = "st-00000"


def _month_slots() -> list[tuple[Any, str]]:
    tomorrow = (SystemClock().now().astimezone(TZ) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    slots = []
    for day in range(31):
        base = tomorrow + timedelta(days=day)
        slots.append((base.replace(hour=6, minute=30), f"seg-{day % 3}"))
        slots.append((base.replace(hour=17, minute=0), f"seg-{(day + 1) % 3}"))
    return slots


def run(ctx: Any) -> list[Figure]:
    settle_s = 3.0 if ctx.quick else 8.0
    window_s = 4.0 if ctx.quick else 30.0
    district = make_district(ctx.workdir / f"footprint-{time.time_ns()}", 1, with_broker=True)
    district.start_broker()
    station: BenchStation | None = None
    sub: subprocess.Popen[bytes] | None = None
    try:
        st = district.stations[STATION]
        root = district.root / "station"
        (root / "data").mkdir(parents=True)
        station = BenchStation(root, station_id=STATION, commune=st.commune,
                               district_signer=district.district_signer, mqtt={
                                   "host": "127.0.0.1", "port": district.port, "username": STATION,
                                   "password_file": str(st.password_file), "tls": None})
        tone = make_tone(ctx.workdir / "footprint-tone.wav")
        station.schedule({f"seg-{i}": tone for i in range(3)}, _month_slots(), valid_days=40)
        proc = station.start(AUDIO_CAPTURE_FILE="/dev/null")
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(district.collector_port), "-u", OBSERVER, "-P",
                                district.observer_password, "-q", "1", "-t", f"cr/v1/{DISTRICT}/#"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(settle_s)
        if proc.poll() is not None:
            raise RuntimeError(f"radio-station run exited {proc.returncode}: see {root / 'daemon.log'}")
        samples: list[float] = []
        base_samples: list[float] = []
        rss: list[float] = []
        base_rss: list[float] = []
        step = window_s / 3
        for _ in range(3):
            c0, b0, t0 = proc_cpu_s(proc.pid), proc_cpu_s(sub.pid), time.monotonic()
            time.sleep(step)
            elapsed = time.monotonic() - t0
            samples.append((proc_cpu_s(proc.pid) - c0) / elapsed * 100)
            base_samples.append((proc_cpu_s(sub.pid) - b0) / elapsed * 100)
            rss.append(proc_rss_mb(proc.pid))
            base_rss.append(proc_rss_mb(sub.pid))
        log_text = (root / "daemon.log").read_text(errors="replace")
        note = f"{len(_month_slots())} slots scheduled; link {'up' if 'connected' in log_text else 'DOWN'}"
        return [
            Figure("footprint", "station idle CPU (radio-station run)", "%", median(samples),
                   target=TARGET_CPU_PCT, baseline=median(base_samples),
                   baseline_name="idle mosquitto_sub", runs=len(samples), samples=samples,
                   note=f"{window_s:g} s window; {note} (/proc ticks: 10 ms resolution)"),
            Figure("footprint", "station idle RSS (radio-station run)", "MB", median(rss),
                   baseline=median(base_rss), baseline_name="idle mosquitto_sub", runs=len(rss),
                   samples=rss),
        ]
    finally:
        if station is not None:
            station.stop()
        if sub is not None:
            stop_process(sub)
        district.close()
