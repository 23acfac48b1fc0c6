"""hal.audio on a sink paced like a sound card (docs/TESTING.md): a private PulseAudio null sink.

The ``testout`` device of the other tests takes samples as fast as they come; here
writes block in real time, so the deadline guard and the ``stop`` event are tested
against real blocking. ALSA reads its config once per process, so the player runs in
a subprocess with its own ALSA_CONFIG_PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
RATE = 44100

ASOUND = """
pcm.paced {
    type file
    slave.pcm { type pulse }
    file {
        @func getenv
        vars [ AUDIO_CAPTURE_FILE ]
        default "/tmp/audio-capture.raw"
    }
    format "raw"
}
"""

NULL_PA = """
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=testsink rate=48000 channels=2 format=s16le
set-default-sink testsink
"""

PLAYER = """
import json, sys, threading, time
from hal.audio import PortAudioOutput

out = PortAudioOutput("paced")
media, stop_after = sys.argv[1], float(sys.argv[2])
stop = threading.Event()
if stop_after > 0:
    threading.Timer(stop_after, stop.set).start()
began = time.monotonic()
starts = []
result = out.play(media, stop=stop, margin_s=5.0, on_start=lambda: starts.append(time.monotonic()))
print(json.dumps({"elapsed": time.monotonic() - began, "started": starts[0] - began,
                  "played_s": result.played_s, "stopped": result.stopped,
                  "underruns": result.underruns}))
"""


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private PulseAudio server with a null sink; yields the player's environment."""
    if shutil.which("pulseaudio") is None:
        pytest.skip("pulseaudio is not installed (Debian: pulseaudio libasound2-plugins)")
    home = tmp_path_factory.mktemp("pulse")
    run = home / "run"
    run.mkdir()
    socket = run / "native"
    (home / "null.pa").write_text(NULL_PA.format(socket=socket))
    (home / "asound.conf").write_text(ASOUND)
    env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(run))
    server = subprocess.Popen(
        ["pulseaudio", "-n", "-F", str(home / "null.pa"), "--daemonize=no",
         "--exit-idle-time=-1", "--use-pid-file=no"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("private pulseaudio server did not start")
            time.sleep(0.02)
        yield dict(
            env,
            PULSE_SERVER=f"unix:{socket}",
            ALSA_CONFIG_PATH=f"/usr/share/alsa/alsa.conf:{home / 'asound.conf'}",
            PYTHONPATH=str(REPO),
        )
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _play(env: dict[str, str], media: Path, capture: Path, stop_after: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PLAYER, str(media), str(stop_after)],
        env=dict(env, AUDIO_CAPTURE_FILE=str(capture)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def tone(tmp_path: Path, seconds: float) -> tuple[Path, np.ndarray]:
    t = np.arange(round(seconds * RATE)) / RATE
    mono = (0.4 * np.sin(2 * np.pi * 330 * t) * 32767).astype(np.int16)
    data = np.stack([mono, mono], 1)
    path = tmp_path / "paced.wav"
    sf.write(str(path), data, RATE, subtype="PCM_16")
    return path, data


def test_audio_paced_sink_plays_in_real_time_without_false_hang(
    pulse: dict[str, str], tmp_path: Path
) -> None:
    media, data = tone(tmp_path, 1.5)
    capture = tmp_path / "cap.raw"

    result = _play(pulse, media, capture, stop_after=0)

    assert result["stopped"] is False
    assert result["played_s"] == pytest.approx(1.5)
    # Paced (the PulseAudio ALSA plugin also holds the first write about 1 s), and no
    # deadline misfire: the guard allows 5 s past the audio submitted so far.
    assert 1.4 <= result["elapsed"] < 1.5 + 5.0
    assert result["started"] < 1.0
    assert np.array_equal(np.fromfile(capture, dtype=np.int16).reshape(-1, 2), data)


def test_audio_paced_sink_stop_event_ends_playback_early(
    pulse: dict[str, str], tmp_path: Path
) -> None:
    media, _ = tone(tmp_path, 4.0)

    result = _play(pulse, media, tmp_path / "cap.raw", stop_after=2.0)

    assert result["stopped"] is True
    assert 0.0 < result["played_s"] < 3.0
    assert result["elapsed"] < 3.5  # the whole segment would take more than 4 s
