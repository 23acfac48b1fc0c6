"""A real-time paced sound device without a sound card (docs/TESTING.md): a private PulseAudio.

:func:`paced_device` starts ``pulseaudio`` with a null sink and writes an ALSA config
with a ``paced`` pcm (the ALSA file plugin in front of the pulse plugin: the capture file
holds exactly what was written, and writes block like a sound card). It yields the
environment a player needs (``PULSE_SERVER``, ``ALSA_CONFIG_PATH``...).

:class:`SinkRecorder` records the null sink's monitor with ``parec`` and maps each
recorded sample to wall-clock time, so the moment a sample *went through the sink*
can be found after the fact. The mapping takes the least-delayed chunk: sample ``k``
was rendered at ``t0 + k / rate`` with ``t0 = min(arrival_j - end_j / rate)``; what is
left is the monitor's own fixed capture delay, so the times found are upper bounds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from radio_protocol.clock import SystemClock

RATE = 48000

NULL_PA = """
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=testsink rate=48000 channels=2 format=s16le
set-default-sink testsink
"""

ASOUND = """
pcm.paced {{
    type file
    slave.pcm {{ type pulse }}
    file {{
        @func getenv
        vars [ AUDIO_CAPTURE_FILE ]
        default "{capture}"
    }}
    format "raw"
}}
pcm.testout {{
    type file
    slave.pcm "null"
    file {{
        @func getenv
        vars [ AUDIO_CAPTURE_FILE ]
        default "/dev/null"
    }}
    format "raw"
}}
"""


def pulse_missing() -> str | None:
    """Why a paced device cannot be made here, or None."""
    for tool in ("pulseaudio", "parec"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: pulseaudio pulseaudio-utils libasound2-plugins)"
    if not Path("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so").exists() and \
            not list(Path("/usr/lib").glob("*/alsa-lib/libasound_module_pcm_pulse.so")):
        return "the ALSA pulse plugin is not installed (Debian: libasound2-plugins)"
    return None


@contextmanager
def paced_device(root: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio null sink; yields the environment for players (device ``paced``)."""
    root.mkdir(parents=True, exist_ok=True)
    run = root / "run"
    run.mkdir(exist_ok=True)
    socket = run / "native"
    socket.unlink(missing_ok=True)
    (root / "null.pa").write_text(NULL_PA.format(socket=socket))
    (root / "asound.conf").write_text(ASOUND.format(capture=root / "capture.raw"))
    # no shared memory between clients and server: PulseAudio 16 aborted in
    # memblock_replace_import() with a playback and a monitor recorder over memfd/shm
    (root / "client.conf").write_text("enable-shm = no\nautospawn = no\n")
    env = dict(os.environ, HOME=str(root), XDG_RUNTIME_DIR=str(run),
               PULSE_CLIENTCONFIG=str(root / "client.conf"))
    log = (root / "pulseaudio.log").open("ab")
    server = subprocess.Popen(
        ["pulseaudio", "-n", "-F", str(root / "null.pa"), "--daemonize=no", "--exit-idle-time=-1",
         "--use-pid-file=no", "--log-level=notice", "--disable-shm=yes"],
        env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private pulseaudio server did not start")
            time.sleep(0.02)
        yield dict(env, PULSE_SERVER=f"unix:{socket}",
                   ALSA_CONFIG_PATH=f"/usr/share/alsa/alsa.conf:{root / 'asound.conf'}",
                   AUDIO_CAPTURE_FILE=str(root / "capture.raw"))
    finally:
        log.close()
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class SinkRecorder:
    """Records the sink's monitor (mono s16) and timestamps it on the wall clock."""

    def __init__(self, env: dict[str, str]) -> None:
        self._clock = SystemClock()
        self.proc = subprocess.Popen(
            ["parec", "-d", "testsink.monitor", "--raw", "--format=s16le", f"--rate={RATE}",
             "--channels=1", "--latency-msec=5"], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        self._chunks: list[bytes] = []
        self._frames = 0
        self._t0: float | None = None  # wall seconds (epoch) of sample 0
        self._reader = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        pending = b""
        while True:
            data = os.read(fd, 8192)
            arrival = self._clock.now().timestamp()
            if not data:
                return
            data = pending + data
            usable = len(data) - len(data) % 2
            pending = data[usable:]
            self._chunks.append(data[:usable])
            self._frames += usable // 2
            start = arrival - self._frames / RATE
            if self._t0 is None or start < self._t0:
                self._t0 = start

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
        self._reader.join(5)

    def first_sound(self, after_at: datetime, before_at: datetime, threshold: int = 200) -> datetime | None:
        """Wall time of the first sample above ``threshold`` in [after_at, before_at)."""
        if self._t0 is None:
            return None
        samples = np.frombuffer(b"".join(self._chunks), dtype="<i2")
        lo = max(0, int((after_at.timestamp() - self._t0) * RATE))
        hi = min(len(samples), int((before_at.timestamp() - self._t0) * RATE))
        if hi <= lo:
            return None
        loud = np.flatnonzero(np.abs(samples[lo:hi].astype(np.int32)) > threshold)
        if not len(loud):
            return None
        return datetime.fromtimestamp(self._t0 + (lo + int(loud[0])) / RATE, UTC)

    @staticmethod
    def window(slot_at: datetime, before_s: float, after_s: float) -> tuple[datetime, datetime]:
        return slot_at - timedelta(seconds=before_s), slot_at + timedelta(seconds=after_s)
