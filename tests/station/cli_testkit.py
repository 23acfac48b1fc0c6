"""Helpers of the ``radio-station`` command tests: config files, tones, the raw capture
of the ``testout`` device, the commands run in process, and event checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from gpiozero.pins.mock import MockPin
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws

from firmware_daemon.cli import main
from radio_protocol.jose import KeyRing, verify
from radio_protocol.messages.event import build_event, parse_event
from radio_protocol.names import EVENT_TYP

REPO = Path(__file__).resolve().parents[2]


PIN = 17


WARMUP_S = 0.2


class TimedPin(MockPin):
    """A MockPin that also keeps the absolute monotonic time of each change."""

    def __init__(self, factory: Any, info: Any) -> None:
        self.changes: list[tuple[float, bool]] = []
        super().__init__(factory, info)

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed:
            self.changes.append((self._last_change, value))
        return changed


def write_config(tmp_path: Path, *, device: str = "testout", warmup_s: float = WARMUP_S,
                 timezone: str = "Asia/Ho_Chi_Minh", audio: str | None = None,
                 active_high: bool = True) -> Path:
    path = tmp_path / "station.yaml"
    audio_section = audio if audio is not None else f"audio: {{device: {device}, margin_s: 2}}\n"
    path.write_text(
        'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
        f"timezone: {timezone}\n"
        "data_dir: data\n"
        f"amplifier: {{pin: {PIN}, active_high: {str(active_high).lower()}, "
        f"warmup_s: {warmup_s}, tail_s: 0.1}}\n"
        "gpio: {pin_factory: mock}\n" + audio_section,
        encoding="utf-8")
    return path


def make_tone(path: Path, seconds: float = 0.5, rate: int = 16000, freq: float = 440.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.4 * np.sin(2 * np.pi * freq * t + 0.3)).astype(np.float32)
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def file_samples(path: Path) -> np.ndarray:
    data, _ = sf.read(path, dtype="int16")
    return np.trim_zeros(np.asarray(data))


def captured_samples(path: Path) -> np.ndarray:
    return np.trim_zeros(np.fromfile(path, dtype=np.int16))


def run(config: Path, *args: str) -> int:
    return main(["-c", str(config), *args])


def keygen(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert run(config, "keygen") == 0
    return dict(json.loads(capsys.readouterr().out))


def event_lines(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[bytes]:
    capsys.readouterr()
    assert run(config, "events", *extra) == 0
    return [line.encode() for line in capsys.readouterr().out.splitlines()]


HEX64 = re.compile(r"[0-9a-f]{64}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def assert_protocol_shape(payload: dict[str, Any]) -> None:
    """Every member docs/protocol.md requires of an airing event, in order, with its type.

    The order and the members are radio_protocol's builder's (which tests/protocol/test_protocol_doc.py
    holds to the document): the payload parses, and rebuilding it gives it back unchanged.
    """
    rebuilt = build_event(parse_event(payload))  # EventError names a missing or ill-typed member
    assert rebuilt == payload and list(rebuilt) == list(payload)
    assert (payload["v"], payload["type"]) == (1, "airing")
    assert isinstance(payload["seq"], int) and payload["seq"] >= 1
    assert payload["prev"] is None if payload["seq"] == 1 else HEX64.fullmatch(payload["prev"])
    segment = payload["segment"]
    assert {"id", "title", "program", "sha256"} <= set(segment) <= {*segment, "topic"}
    assert segment["sha256"] is None or HEX64.fullmatch(segment["sha256"])
    assert payload["priority"] in ("normal", "priority", "emergency")
    for when in (payload["started_at"], payload["ended_at"], payload["amp"]["on_at"],
                 payload["amp"]["off_at"], payload["slot"]):
        assert when is None or TIME.fullmatch(when), when
    assert isinstance(payload["played_s"], float)
    assert isinstance(payload["media_s"], float) or payload["reason"] == "media-missing"
    assert payload["outcome"] in ("completed", "interrupted", "failed", "missed")
    assert (payload["reason"] is None) is (payload["outcome"] == "completed")
    assert list(payload["amp"]) == ["on_at", "off_at", "confirmed"]
    assert list(payload["level"]) == ["rms_dbfs", "peak_dbfs", "silent_s"]
    assert isinstance(payload["clock_synced"], bool)
    assert UUID.fullmatch(payload["boot_id"]) and isinstance(payload["sw"], str)


def verified(lines: list[bytes], jwk: dict[str, str]) -> list[dict[str, Any]]:
    """Payloads after checking every line with our verifier AND with jwcrypto."""
    ring = KeyRing.from_jwks([jwk])
    public = jw_jwk.JWK(**{k: jwk[k] for k in ("kty", "crv", "x")})
    payloads = []
    for line in lines:
        assert sorted(json.loads(line)) == ["payload", "protected", "signature"]  # flattened
        ours = verify(line, ring, EVENT_TYP)
        token = jw_jws.JWS()
        token.deserialize(line.decode())
        token.verify(public)
        assert token.payload == ours.payload_bytes
        assert token.jose_header == {"alg": "EdDSA", "kid": jwk["kid"], "typ": "cr-event+json"}
        payloads.append(ours.payload)
    return payloads
