"""firmware_daemon.hardware: the station's amplifier and audio output, built once from the
config for ``play`` and ``run``, on gpiozero's MockFactory."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero import OutputDevice
from gpiozero.pins.mock import MockFactory

from firmware_daemon.config import StationConfig, load_station_config
from firmware_daemon.hardware import StationHardware, build_audio_output
from hal.amplifier import GpioAmplifier
from hal.audio import PortAudioOutput
from hal.errors import AmplifierError

PIN = 17


def station_config(tmp_path: Path, active_high: bool = False) -> StationConfig:
    path = tmp_path / "station.yaml"
    path.write_text(
        'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
        "data_dir: data\n"
        f"amplifier: {{pin: {PIN}, active_high: {str(active_high).lower()}}}\n"
        "gpio: {pin_factory: mock}\n"
        "audio: {device: testout, latency: 0.05}\n",
        encoding="utf-8")
    return load_station_config(path)


def test_hardware_open_forces_amp_off_and_builds_the_configured_audio(tmp_path: Path) -> None:
    factory = MockFactory()
    with StationHardware.open(station_config(tmp_path), pin_factory=factory) as hardware:
        assert isinstance(hardware.amplifier, GpioAmplifier) and not hardware.amplifier.is_on
        assert isinstance(hardware.audio, PortAudioOutput)
        assert (hardware.audio.device, hardware.audio.latency) == ("testout", 0.05)
        hardware.amplifier.on()
    # active-low: high at once (off), low (on), high again at close (off)
    assert [s.state for s in factory.pin(PIN).states] == [False, True, False, True]
    OutputDevice(PIN, pin_factory=factory).close()  # the pin was released at close


def test_hardware_leaves_a_given_factory_open_and_closes_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = station_config(tmp_path)
    made = MockFactory()
    closed: list[str] = []
    monkeypatch.setattr(made, "close", lambda: closed.append("own"))
    monkeypatch.setattr("hal.amplifier.gpio.make_pin_factory", lambda name: made)
    StationHardware.open(config).close()
    assert closed == ["own"]

    given = MockFactory()
    monkeypatch.setattr(given, "close", lambda: closed.append("given"))
    StationHardware.open(config, pin_factory=given).close()
    assert closed == ["own"]


def test_hardware_amp_fault_raises_and_closes_its_own_factory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = MockFactory()
    held = OutputDevice(PIN, pin_factory=made)  # another process's relay on the pin
    closed: list[bool] = []
    monkeypatch.setattr(made, "close", lambda: closed.append(True))
    monkeypatch.setattr("hal.amplifier.gpio.make_pin_factory", lambda name: made)
    with pytest.raises(AmplifierError, match="cannot drive amplifier pin 17"):
        StationHardware.open(station_config(tmp_path))
    assert closed == [True]
    held.close()


def test_hardware_audio_output_is_built_without_touching_portaudio(tmp_path: Path) -> None:
    import subprocess
    import sys

    audio = build_audio_output(station_config(tmp_path))
    assert isinstance(audio, PortAudioOutput)
    code = ("import sys; from firmware_daemon import hardware; "
            "print('sounddevice' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
