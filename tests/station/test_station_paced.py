"""``radio-station play`` on a sink paced like a sound card (a private PulseAudio null sink,
docs/TESTING.md): a SIGTERM while the audio is really going out stops the airing within a
block, switches the amplifier off and records it as ``interrupted``/``shutdown``.

The command runs as a real subprocess (ALSA reads its config once per process)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from test_hal_audio_paced import pulse  # noqa: F401  (the private PulseAudio fixture)

from radio_protocol.jose import KeyRing, verify
from radio_protocol.names import EVENT_TYP

REPO = Path(__file__).resolve().parents[2]
RATE = 44100
SECONDS = 4.0


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(
        'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
        "data_dir: data\n"
        "amplifier: {pin: 17, warmup_s: 0.2, tail_s: 0.5}\n"
        "gpio: {pin_factory: mock}\n"
        "audio: {device: paced, margin_s: 5}\n",
        encoding="utf-8")
    return path


def test_cli_play_sigterm_mid_audio_on_paced_sink(pulse: dict[str, str],  # noqa: F811
                                                  tmp_path: Path) -> None:
    t = np.arange(round(SECONDS * RATE)) / RATE
    mono = (0.4 * np.sin(2 * np.pi * 330 * t) * 32767).astype(np.int16)
    media = tmp_path / "long.wav"
    sf.write(str(media), np.stack([mono, mono], 1), RATE, subtype="PCM_16")
    capture = tmp_path / "cap.raw"
    env = dict(pulse, AUDIO_CAPTURE_FILE=str(capture))
    cmd = [sys.executable, "-m", "firmware_daemon.cli", "-c", str(_config(tmp_path))]
    jwk = json.loads(subprocess.run(cmd + ["keygen"], capture_output=True, cwd=REPO, env=env,
                                    timeout=30, check=True).stdout)

    proc = subprocess.Popen(cmd + ["play", str(media), "--program", "chuyen-doi-so"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        # samples are reaching the (paced) device: we are in the middle of the audio
        while not (capture.exists() and capture.stat().st_size >= 4 * RATE // 5):
            assert proc.poll() is None and time.monotonic() < deadline, "audio never started"
            time.sleep(0.02)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = err.decode()
    assert proc.returncode == 128 + signal.SIGTERM, log
    assert time.monotonic() - signalled < 2.0  # stopped within a block, not at the end
    after_on = log.split("amplifier on pin=17", 1)[1]
    assert "audio play finished" in after_on and "stopped=True" in after_on
    assert "amplifier off pin=17" in after_on.split("audio play finished", 1)[1]

    lines = subprocess.run(cmd + ["events"], capture_output=True, cwd=REPO, env=env,
                           timeout=30, check=True).stdout.splitlines()
    (line,) = lines
    payload = verify(line, KeyRing.from_jwks([jwk]), EVENT_TYP).payload
    assert (payload["outcome"], payload["reason"]) == ("interrupted", "shutdown")
    assert 0.2 < payload["played_s"] < SECONDS - 1.0
    assert payload["media_s"] == SECONDS
    assert payload["amp"]["on_at"] is not None and payload["amp"]["off_at"] is not None
    assert payload["level"]["peak_dbfs"] is not None
    captured = np.fromfile(capture, dtype=np.int16).reshape(-1, 2)[:, 0]
    assert 0 < captured.size < mono.size
    assert np.array_equal(captured, mono[: captured.size])  # a clean prefix of the file
