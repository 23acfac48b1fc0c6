"""Figure 2: playback cost and memory.

CPU seconds per minute of audio: our player (``hal.audio.PortAudioOutput.play``, what the
daemon's airing calls) against ``aplay`` (WAV) and ``mpg123`` (MP3), the same 48 kHz
stereo file, the same ALSA device, alternating, median over runs. The device is the
``testout`` ALSA file plugin writing to /dev/null: it takes samples as fast as they
come, so the figure is the whole decode + convert + write cost without waiting for
real time (the paced device adds only sleeping). Ours is counted two ways: the
``play`` call alone (rusage around it, in the process) and the whole process
(interpreter and imports included, wait4), since aplay/mpg123 start in milliseconds.

Peak RSS (VmHWM) of the real ``radio-station run`` daemon airing a 60-minute file
against the same daemon airing a 5-minute one (no growth with length wanted).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import PYTHON, Figure, bench_env, median, not_measured, proc_rss_mb, run_measured
from bench.station import BenchStation
from radio_protocol.clock import SystemClock

TARGET_RATIO = 1.5
TARGET_RSS_MB = 60.0

PLAYER = """
import json, resource, sys, time
from hal.audio import PortAudioOutput
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
out = PortAudioOutput(sys.argv[1])
before, began = cpu(), time.monotonic()
result = out.play(sys.argv[2], margin_s=30.0)
print(json.dumps({"play_cpu_s": cpu() - before, "play_wall_s": time.monotonic() - began,
                  "played_s": result.played_s}))
"""


def make_media(directory: Path, seconds: int, log: Any) -> dict[str, Path]:
    """48 kHz stereo WAV (sox) and 128 kb/s MP3 (lame) of ``seconds``; cached."""
    directory.mkdir(parents=True, exist_ok=True)
    wav, mp3 = directory / f"tone-{seconds}s.wav", directory / f"tone-{seconds}s.mp3"
    if not wav.exists():
        subprocess.run(["sox", "-n", "-r", "48000", "-c", "2", "-b", "16", str(wav) + ".tmp.wav",
                        "synth", str(seconds), "sine", "440", "sine", "660", "vol", "0.5"], check=True)
        Path(str(wav) + ".tmp.wav").rename(wav)
    if not mp3.exists():
        subprocess.run(["lame", "--quiet", "-t", "-b", "128", str(wav), str(mp3) + ".tmp"], check=True)
        Path(str(mp3) + ".tmp").rename(mp3)
    return {"wav": wav, "mp3": mp3}


def long_mp3(directory: Path, piece: Path, copies: int) -> Path:
    """``copies`` x ``piece`` concatenated (no LAME tag, so frames simply follow)."""
    out = directory / f"long-{copies}x-{piece.name}"
    if not out.exists():
        with out.open("wb") as fh:
            data = piece.read_bytes()
            for _ in range(copies):
                fh.write(data)
    return out


def _ours(path: Path) -> tuple[float, float]:
    used = run_measured([PYTHON, "-c", PLAYER, "testout", str(path)],
                        env=bench_env(AUDIO_CAPTURE_FILE="/dev/null"))
    if used.returncode != 0:
        raise RuntimeError(f"player failed: {used.stderr.decode(errors='replace')[-500:]}")
    report = json.loads(used.stdout.decode().strip().splitlines()[-1])
    return float(report["play_cpu_s"]), used.cpu_s


def _baseline(kind: str, path: Path) -> float:
    argv = (["aplay", "-q", "-D", "testout", str(path)] if kind == "wav"
            else ["mpg123", "-q", "-o", "alsa", "-a", "testout", str(path)])
    used = run_measured(argv, env=bench_env(AUDIO_CAPTURE_FILE="/dev/null"))
    if used.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {used.stderr.decode(errors='replace')[-300:]}")
    return used.cpu_s


def cpu_figures(ctx: Any, media: dict[str, Path], seconds: int) -> list[Figure]:
    runs = 1 if ctx.quick else 5
    minutes = seconds / 60.0
    figures: list[Figure] = []
    for kind, tool in (("wav", "aplay"), ("mp3", "mpg123")):
        if shutil.which(tool) is None:
            figures.append(not_measured("playback", f"CPU s per audio minute, {kind.upper()}", "s/min",
                                        f"{tool} is not installed"))
            continue
        play: list[float] = []
        proc: list[float] = []
        base: list[float] = []
        for _ in range(runs):
            p, whole = _ours(media[kind])
            play.append(p / minutes)
            proc.append(whole / minutes)
            base.append(_baseline(kind, media[kind]) / minutes)
        b = median(base)
        figures.append(Figure("playback", f"CPU s per audio minute, {kind.upper()}, play() only",
                              "s/min", median(play), baseline=b, baseline_name=tool, runs=runs,
                              samples=play, ratio_target=TARGET_RATIO, note=f"{seconds} s file"))
        figures.append(Figure("playback", f"CPU s per audio minute, {kind.upper()}, whole process",
                              "s/min", median(proc), baseline=b, baseline_name=tool, runs=runs,
                              samples=proc, note="includes interpreter start and imports"))
    return figures


def _daemon_peak_rss(root: Path, media: Path, lead_s: float) -> tuple[float, str]:
    """Peak RSS of ``radio-station run`` airing ``media`` once (unpaced device)."""
    import soundfile as sf

    station = BenchStation(root, audio_device="testout", warmup_s=0.1, tail_s=0.0)
    slot_at = SystemClock().now() + timedelta(seconds=lead_s)
    station.schedule({"long": media}, [(slot_at, "long")])
    proc = station.start(AUDIO_CAPTURE_FILE="/dev/null")
    peak = 0.0
    duration = sf.info(str(media)).duration
    deadline = time.monotonic() + 60 + duration / 20
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            peak = max(peak, proc_rss_mb(proc.pid, "VmHWM"))
            if station.events():
                break
            time.sleep(0.2)
        peak = max(peak, proc_rss_mb(proc.pid, "VmHWM"))
    finally:
        station.stop()
    events = station.events()
    if not events:
        return peak, "no event recorded"
    e = events[-1]
    return peak, f"{e['outcome']}, played {e['played_s']:.0f} s"


def rss_figures(ctx: Any, media_dir: Path, short: dict[str, Path]) -> list[Figure]:
    copies = 2 if ctx.quick else 12  # 5 min x 12 = 60 min (quick: 2 x 10 s)
    long = long_mp3(media_dir, short["mp3"], copies)
    lead_s = 2.0 if ctx.quick else 4.0  # the daemon's start-up before the slot
    short_peak, short_note = _daemon_peak_rss(ctx.workdir / f"rss-short-{time.time_ns()}", short["mp3"], lead_s)
    long_peak, long_note = _daemon_peak_rss(ctx.workdir / f"rss-long-{time.time_ns()}", long, lead_s)
    minutes = (copies * (10 if ctx.quick else 300)) / 60
    return [Figure("playback", f"daemon peak RSS airing a {round(minutes, 2):g}-min MP3", "MB", long_peak,
                   target=TARGET_RSS_MB, baseline=short_peak, ratio_target=1.1,
                   baseline_name=f"same daemon, {round(minutes / copies, 2):g}-min MP3",
                   note=f"{long_note}; ratio = growth with length; short: {short_note}")]


def run(ctx: Any) -> list[Figure]:
    media_dir = ctx.workdir / "media"
    seconds = 10 if ctx.quick else 60
    media = make_media(media_dir, seconds, ctx.log)
    figures = cpu_figures(ctx, media, seconds)
    short = make_media(media_dir, 10 if ctx.quick else 300, ctx.log)
    figures += rss_figures(ctx, media_dir, short)
    return figures
