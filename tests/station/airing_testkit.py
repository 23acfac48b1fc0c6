"""The airing rig: an Airer over a gpiozero MockFactory pin, an audio output (usually
hal's FakeAudioOutput) and a real outbox; the events it stores are verified."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from firmware_daemon.airing.airer import Airer, Segment
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.config import StationConfig, load_station_config
from hal.amplifier import GpioAmplifier
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import KeyRing, Signer, load_or_create_private_key, verify
from radio_protocol.names import EVENT_TYP

START_AT = datetime(2024, 3, 4, 23, 29, 58, tzinfo=UTC)  # 06:29:58 in Ho Chi Minh City


SEGMENT = Segment(id="cds-2024-03-a", title="Chuyển đổi số là gì?", program="chuyen-doi-so",
                  topic="policy", sha256="ab" * 32)


PIN = 17


FEEDBACK_PIN = 27


def station_config(tmp_path: Path, warmup_s: float = 2.0) -> StationConfig:
    path = tmp_path / "station.yaml"
    path.write_text(
        'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
        "data_dir: data\n"
        f"amplifier: {{pin: {PIN}, warmup_s: {warmup_s}, tail_s: 1.0}}\n"
        "gpio: {pin_factory: mock}\n"
        "audio: {device: testout, margin_s: 0.5}\n",
        encoding="utf-8")
    return load_station_config(path)


def tone(path: Path, seconds: float = 1.5, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


class Rig:
    """An Airer over a mock amplifier pin, a fake audio output and a real outbox."""

    def __init__(self, tmp_path: Path, audio: Any, clock: Any = None,
                 feedback: bool | None = None, warmup_s: float = 2.0) -> None:
        self.config = station_config(tmp_path, warmup_s)
        self.factory = MockFactory()
        self.pin = self.factory.pin(PIN)
        feedback_pin = None
        if feedback is not None:
            feedback_pin = FEEDBACK_PIN
            sense = self.factory.pin(FEEDBACK_PIN)
            if feedback:  # the relay really switches: the output drives the feedback input
                self.factory.pins.pop(self.pin.info)
                self.pin = self.factory.pin(PIN, pin_class=MockConnectedPin, input_pin=sense)
        self.amp = GpioAmplifier(PIN, feedback_pin=feedback_pin, pin_factory=self.factory)
        key, _ = load_or_create_private_key(self.config.key_path)
        self.signer = Signer(key)
        self.outbox = Outbox(self.config.outbox_path, self.signer)
        self.clock = clock or SimulatedClock(START_AT)
        self.audio = audio
        self.airer = Airer(self.amp, audio, self.outbox, self.clock, self.config,
                           clock_synced=lambda: True, boot_id="boot-1")

    def states(self) -> list[bool]:
        return [s.state for s in self.pin.states]

    def stored(self) -> list[dict[str, Any]]:
        ring = KeyRing.from_jwks([self.signer.public_jwk])
        return [verify(j, ring, EVENT_TYP).payload for j in self.outbox.events(0)]

    def close(self) -> None:
        self.amp.close()
        self.outbox.close()


def make_rig(rigs: list[Rig], tmp_path: Path, audio: Any, **kwargs: Any) -> Rig:
    rig = Rig(tmp_path, audio, **kwargs)
    rigs.append(rig)
    return rig


ON_OFF = [False, True, False]


NEVER_ON = [False]
