"""``amp-off`` reads only amplifier.pin, amplifier.active_high and gpio.pin_factory: whatever
else is wrong in the file, the relay is driven off (systemd's ExecStopPost relies on it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_daemon.cli import main

PIN = 17
GOOD_STATION = 'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'

# (name, config text) with active-low relays: "off" means the pin is driven high
BROKEN_ELSEWHERE = [
    ("typo-in-amplifier", GOOD_STATION + "amplifier: {pin: 17, active_high: false, warmup: 2}\n"
                                         "gpio: {pin_factory: mock}\n"),
    ("bad-warmup-value", GOOD_STATION + "amplifier: {pin: 17, active_high: false, warmup_s: -5, "
                                        "tail_s: lots, feedback_pin: 17}\n"
                                        "gpio: {pin_factory: mock}\n"),
    ("unknown-gpio-key", GOOD_STATION + "amplifier: {pin: 17, active_high: false}\n"
                                        "gpio: {pin_factory: mock, chip: 4}\n"),
    ("broken-station", "station: [not, a, mapping]\n"
                       "amplifier: {pin: 17, active_high: false}\ngpio: {pin_factory: mock}\n"),
    ("no-station", "amplifier: {pin: 17, active_high: false}\ngpio: {pin_factory: mock}\n"),
    ("unknown-top-level", GOOD_STATION + "amplfier: {pin: 3}\nfoo: 1\ntimezone: Mars/Olympus\n"
                                         "amplifier: {pin: 17, active_high: false}\n"
                                         "gpio: {pin_factory: mock}\n"),
    ("bad-audio-mqtt-keys", GOOD_STATION + "amplifier: {pin: 17, active_high: false}\n"
                                           "gpio: {pin_factory: mock}\naudio: 5\n"
                                           "mqtt: {host: 1, port: huge}\ndistrict_keys: [{kty: x}]\n"
                                           "outbox: {retention_days: -1}\n"),
]


@pytest.mark.parametrize(("name", "text"), BROKEN_ELSEWHERE, ids=[c[0] for c in BROKEN_ELSEWHERE])
def test_amp_off_drives_pin_off_whatever_else_is_broken(
        tmp_path: Path, factory: MockFactory, capsys: pytest.CaptureFixture[str],
        name: str, text: str) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(text, encoding="utf-8")
    pin = factory.pin(PIN)
    pin.drive_low()  # an active-low relay left ON by a crash
    assert main(["-c", str(config), "amp-off"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "amplifier off (pin 17, active_high=false)\n"
    assert pin.state is True  # active-low: off is high
    assert [s.state for s in pin.states][-1] is True


# (name, config text, what the error must name)
UNREADABLE = [
    ("no-amplifier", GOOD_STATION + "gpio: {pin_factory: mock}\n", "amplifier: missing section"),
    ("amplifier-not-mapping", "amplifier: 17\n", "amplifier: must be a mapping, got int"),
    ("no-pin", "amplifier: {active_high: false}\n", "amplifier.pin: missing (required)"),
    ("bad-pin", "amplifier: {pin: 99}\n", "amplifier.pin: must be <= 53, got 99"),
    ("bad-polarity", "amplifier: {pin: 17, active_high: low}\n",
     "amplifier.active_high: must be true or false, got 'low'"),
    ("bad-factory", "amplifier: {pin: 17}\ngpio: {pin_factory: wiringpi}\n",
     "gpio.pin_factory: must be one of"),
    ("gpio-not-mapping", "amplifier: {pin: 17}\ngpio: mock\n", "gpio: must be a mapping, got str"),
    ("not-a-mapping", "- 1\n- 2\n", "expected a mapping of settings"),
    ("invalid-yaml", "amplifier: {pin: 17\n", "invalid YAML"),
]


@pytest.mark.parametrize(("name", "text", "expected"), UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_amp_off_fails_clearly_when_its_keys_cannot_be_read(
        tmp_path: Path, factory: MockFactory, capsys: pytest.CaptureFixture[str],
        name: str, text: str, expected: str) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(text, encoding="utf-8")
    assert main(["-c", str(config), "amp-off"]) == 1
    err = capsys.readouterr().err
    assert "radio-station: configuration error:" in err
    assert expected in err and str(config) in err, err
    assert factory.pins == {}  # never guessed a pin or a polarity
