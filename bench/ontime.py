"""Figure 1: on-time start, slot time -> first sample, on a real-time paced device.

The real ``radio-station run`` (mock GPIO, PortAudio to the ``paced`` ALSA device: the
file plugin in front of a private PulseAudio null sink, docs/TESTING.md) airs a schedule of
short slots (a 0.4 s tone every 1.5 s). Two errors per slot:

- *first write*: the event's ``started_at`` (the Airer stamps it in ``on_start``, just
  before the first block is written to the paced stream) minus the slot;
- *at the sink*: the first loud sample in a ``parec`` recording of the sink's monitor,
  mapped to wall time (see :class:`bench.pulse.SinkRecorder`), minus the slot. This adds
  the device buffer (PortAudio ``latency='high'``) and the monitor's capture delay.

Median and p99 over >= 50 slots, idle and with the other core loaded by a busy loop.
Baseline, same device, same recorder: a minimal player that opens and starts the stream
during the warm-up, sleeps until the slot and writes (what the hardware path allows).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.common import PYTHON, Figure, bench_env, cpu_hog, median, not_measured, percentile
from bench.pulse import RATE, SinkRecorder, paced_device, pulse_missing
from bench.station import BenchStation
from radio_protocol.clock import SystemClock
from radio_protocol.timefmt import parse_rfc3339

TARGET_P99_MS = 20.0
TONE_S = 0.4
SPACING_S = 1.5
WARMUP_S = 0.3
LEAD_S = 5.0  # daemon start-up before the first slot

MINIMAL_PLAYER = """
import json, sys, time
import sounddevice as sd, soundfile as sf
path, slots, warmup = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
data, rate = sf.read(path, dtype="int16", always_2d=True)
for slot in slots:
    while time.time() < slot - warmup:
        time.sleep(min(0.05, max(0.0, slot - warmup - time.time())))
    stream = sd.OutputStream(device="paced", samplerate=rate, channels=data.shape[1],
                             dtype="int16", latency="high")
    stream.start()
    while time.time() < slot:
        time.sleep(min(0.002, max(0.0, slot - time.time())))
    stream.write(data)
    stream.stop()
    stream.close()
"""


def make_tone(path: Path) -> Path:
    """A 48 kHz stereo cosine burst: its very first sample is loud (easy to find)."""
    t = np.arange(round(TONE_S * RATE)) / RATE
    mono = (0.5 * np.cos(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    sf.write(str(path), np.stack([mono, mono], 1), RATE, subtype="PCM_16")
    return path


def _slots(count: int) -> list[datetime]:
    first = SystemClock().now() + timedelta(seconds=LEAD_S)
    first = first.replace(microsecond=0) + timedelta(seconds=1)
    return [first + timedelta(seconds=i * SPACING_S) for i in range(count)]


def _daemon_run(root: Path, env: dict[str, str], tone: Path, count: int, log: Any, *,
                device: str = "paced", record: bool = True) -> tuple[list[float], list[float], str]:
    """Air ``count`` slots through the real daemon; (write errors, sink errors) in ms, note."""
    station = BenchStation(root, audio_device=device, warmup_s=WARMUP_S, tail_s=0.1)
    slots = _slots(count)
    station.schedule({"tone": tone}, [(at, "tone") for at in slots])
    recorder = SinkRecorder(env) if record else None
    station.start(**{k: v for k, v in env.items() if k not in ("HOME",)})
    try:
        end = slots[-1] + timedelta(seconds=SPACING_S + 3)
        while SystemClock().now() < end and len(station.events()) < count:
            if station.proc is not None and station.proc.poll() is not None:
                break
            time.sleep(0.5)
    finally:
        station.stop()
        if recorder is not None:
            recorder.stop()
    events = [e for e in station.events() if e.get("slot")]
    outcomes: dict[str, int] = {}
    write_ms: list[float] = []
    sink_ms: list[float] = []
    for e in events:
        outcomes[e["outcome"]] = outcomes.get(e["outcome"], 0) + 1
        if e["outcome"] != "completed":
            continue
        slot_at = parse_rfc3339(e["slot"])
        write_ms.append((parse_rfc3339(e["started_at"]) - slot_at).total_seconds() * 1000)
        heard = recorder.first_sound(*SinkRecorder.window(slot_at, 0.25, SPACING_S - 0.3)) \
            if recorder is not None else None
        if heard is not None:
            sink_ms.append((heard - slot_at).total_seconds() * 1000)
    note = f"{len(write_ms)}/{count} slots completed"
    if outcomes.keys() - {"completed"}:
        note += f", outcomes {outcomes}"
    log(f"  ontime: {note}; write ms {sorted(write_ms)[:3]}..{sorted(write_ms)[-3:]}")
    return write_ms, sink_ms, note


def _baseline_run(env: dict[str, str], tone: Path, count: int) -> list[float]:
    import subprocess

    slots = _slots(count)
    recorder = SinkRecorder(env)
    try:
        subprocess.run([PYTHON, "-c", MINIMAL_PLAYER, str(tone), json.dumps([s.timestamp() for s in slots]),
                        str(WARMUP_S)], env=bench_env(**env), check=True, timeout=count * SPACING_S + 60,
                       capture_output=True)
    finally:
        recorder.stop()
    out: list[float] = []
    for slot_at in slots:
        heard = recorder.first_sound(*SinkRecorder.window(slot_at, 0.25, SPACING_S - 0.3))
        if heard is not None:
            out.append((heard - slot_at).total_seconds() * 1000)
    return out


def _figures(label: str, write_ms: list[float], sink_ms: list[float], note: str,
             base_sink: list[float] | None, base_label: str) -> list[Figure]:
    figs: list[Figure] = []
    if not write_ms:
        return [not_measured("ontime", f"start error p99, first write{label}", "ms",
                             f"no completed airing ({note})", target=TARGET_P99_MS)]
    figs.append(Figure("ontime", f"start error median, first write{label}", "ms", median(write_ms),
                       runs=len(write_ms), note=note))
    figs.append(Figure("ontime", f"start error p99, first write{label}", "ms", percentile(write_ms, 99),
                       target=TARGET_P99_MS, runs=len(write_ms), note=note))
    if sink_ms:
        b_med = median(base_sink) if base_sink else None
        b_p99 = percentile(base_sink, 99) if base_sink else None
        figs.append(Figure("ontime", f"start error median, at the sink{label}", "ms", median(sink_ms),
                           baseline=b_med, baseline_name=base_label, runs=len(sink_ms)))
        figs.append(Figure("ontime", f"start error p99, at the sink{label}", "ms", percentile(sink_ms, 99),
                           target=TARGET_P99_MS, baseline=b_p99, baseline_name=base_label,
                           runs=len(sink_ms)))
    return figs


def _real_device_run(ctx: Any, tone: Path, count: int) -> list[Figure]:
    """On a real sound card (a Pi): first-write errors only (no monitor to record)."""
    root = ctx.workdir / "ontime"
    env = {"AUDIO_CAPTURE_FILE": "/dev/null"}
    write_ms, _sink, note = _daemon_run(root / f"idle-{time.time_ns()}", env, tone, count, ctx.log,
                                        device=ctx.audio_device, record=False)
    figures = _figures(f" ({ctx.audio_device})", write_ms, [], note, None, "")
    with cpu_hog(max(1, (os.cpu_count() or 2) - 1)):
        lw, _ls, lnote = _daemon_run(root / f"loaded-{time.time_ns()}", env, tone, count, ctx.log,
                                     device=ctx.audio_device, record=False)
    for fig in _figures(f" ({ctx.audio_device}), other cores busy", lw, [], lnote, None, ""):
        idle = next((f for f in figures if f.name == fig.name.replace(", other cores busy", "")), None)
        if idle is not None:
            fig.baseline, fig.baseline_name = idle.value, "same, idle"
        figures.append(fig)
    return figures


def run(ctx: Any) -> list[Figure]:
    count = 5 if ctx.quick else 50
    base_count = 5 if ctx.quick else 30
    root = ctx.workdir / "ontime"
    root.mkdir(parents=True, exist_ok=True)
    tone = make_tone(ctx.workdir / "ontime-tone.wav")
    if ctx.audio_device:
        return _real_device_run(ctx, tone, count)
    why = pulse_missing()
    if why:
        return [not_measured("ontime", "start error p99", "ms", why, target=TARGET_P99_MS)]
    figures: list[Figure] = []
    # a fresh PulseAudio for each condition (its log: <workdir>/ontime/pulse-*/pulseaudio.log)
    with paced_device(root / "pulse-baseline") as env:
        base = _baseline_run(env, tone, base_count)
    ctx.log(f"  ontime baseline (pre-opened stream): sink ms median "
            f"{median(base) if base else float('nan'):.1f}")
    with paced_device(root / "pulse-idle") as env:
        write_ms, sink_ms, note = _daemon_run(root / f"idle-{time.time_ns()}", env, tone, count, ctx.log)
    figures += _figures("", write_ms, sink_ms, note, base, "pre-opened stream, idle")
    hogs = max(1, (os.cpu_count() or 2) - 1)
    with paced_device(root / "pulse-loaded") as env, cpu_hog(hogs):
        lw, ls, lnote = _daemon_run(root / f"loaded-{time.time_ns()}", env, tone, count, ctx.log)
    for fig in _figures(", other core busy", lw, ls, lnote, None, ""):
        idle = next((f for f in figures if f.name == fig.name.replace(", other core busy", "")), None)
        if idle is not None and fig.baseline is None:
            fig.baseline, fig.baseline_name = idle.value, "same, idle"
        figures.append(fig)
    return figures
