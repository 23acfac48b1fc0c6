"""Station config: the example loads, defaults hold, and every bad file names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_daemon.config import load_amp_config, load_station_config
from radio_protocol.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "station.example.yaml"

MINIMAL = """\
station: {id: dak-koi-01, district: kon-ray, commune: "23335"}
data_dir: data
amplifier: {pin: 17}
"""
JWK = "{kty: OKP, crv: Ed25519, x: 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_station_config(path)
    return info.value.problems


def test_config_example_documents_every_key_and_loads() -> None:
    config = load_station_config(EXAMPLE)
    assert config.station.id == "dak-koi-01"
    assert config.station.commune == "23335"
    assert config.amplifier.pin == 17 and config.amplifier.feedback_pin is None
    assert config.mqtt is not None and config.mqtt.session_expiry_s >= 7 * 24 * 3600
    assert len(config.district_keys) == 1
    assert len(config.district_keyring()) == 1
    assert config.media.allow_local_hosts is False  # media from loopback/own networks only on request
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in ("warmup_s", "tail_s", "feedback_pin", "pin_factory", "latency", "margin_s",
                "password_file", "insecure", "keepalive_s", "session_expiry_s", "republish_s",
                "district_keys", "require_synced_clock", "grace_s", "retention_days", "timezone",
                "allow_local_hosts", "deadline_s"):
        assert f"{key}:" in text


def test_config_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_station_config(write(tmp_path, MINIMAL + "mqtt: {host: broker, password_file: pw}\n"))
    assert config.timezone == "Asia/Ho_Chi_Minh"
    assert config.data_dir == tmp_path / "data"
    assert config.key_path == tmp_path / "data" / "station.key"
    assert (config.amplifier.active_high, config.amplifier.warmup_s, config.amplifier.tail_s) == \
        (True, 2.0, 1.0)
    assert config.gpio.pin_factory == "lgpio"
    assert (config.audio.device, config.audio.latency, config.audio.margin_s) == \
        ("default", "high", 10.0)
    assert config.mqtt is not None
    assert (config.mqtt.port, config.mqtt.keepalive_s, config.mqtt.republish_s) == (8883, 60, 60.0)
    assert config.mqtt.password_file == tmp_path / "pw"
    assert config.mqtt.tls is not None and config.mqtt.tls.insecure is False
    assert config.require_synced_clock is True
    assert config.schedule.grace_s == 600.0 and config.outbox.retention_days == 400
    assert config.district_keys == ()


def test_config_without_mqtt_means_no_link(tmp_path: Path) -> None:
    assert load_station_config(write(tmp_path, MINIMAL)).mqtt is None


def test_config_mqtt_tls_null_means_plain(tmp_path: Path) -> None:
    config = load_station_config(write(tmp_path, MINIMAL + "mqtt: {host: h, port: 1883, tls: null}\n"))
    assert config.mqtt is not None and config.mqtt.tls is None and config.mqtt.port == 1883


BAD_CONFIGS = [
    ("unknown top key", MINIMAL + "amplifer: {pin: 3}\n", "amplifer", "did you mean 'amplifier'"),
    ("unknown nested key", MINIMAL.replace("{pin: 17}", "{pin: 17, warmup: 2}"),
     "amplifier.warmup", "did you mean 'warmup_s'"),
    ("missing station", "data_dir: d\namplifier: {pin: 17}\n", "station", "missing"),
    ("station id pattern", MINIMAL.replace("dak-koi-01", "Dak Koi"), "station.id", "does not match"),
    ("district pattern", MINIMAL.replace("kon-ray", "KON_RAY"), "station.district", "does not match"),
    ("commune as number", MINIMAL.replace('"23335"', "23335"), "station.commune", "quoted"),
    ("commune not digits", MINIMAL.replace('"23335"', '"x23"'), "station.commune", "does not match"),
    ("bad timezone", MINIMAL + "timezone: Asia/Hanoi_City\n", "timezone", "unknown IANA"),
    ("missing pin", MINIMAL.replace("{pin: 17}", "{warmup_s: 1}"), "amplifier.pin", "missing"),
    ("pin not a number", MINIMAL.replace("{pin: 17}", "{pin: seventeen}"), "amplifier.pin",
     "integer"),
    ("pin out of range", MINIMAL.replace("{pin: 17}", "{pin: 99}"), "amplifier.pin", "<= 53"),
    ("negative warm-up", MINIMAL.replace("{pin: 17}", "{pin: 17, warmup_s: -1}"),
     "amplifier.warmup_s", ">= 0"),
    ("feedback equals pin", MINIMAL.replace("{pin: 17}", "{pin: 17, feedback_pin: 17}"),
     "amplifier.feedback_pin", "differ"),
    ("active_high string", MINIMAL.replace("{pin: 17}", "{pin: 17, active_high: yes-please}"),
     "amplifier.active_high", "true or false"),
    ("pin factory", MINIMAL + "gpio: {pin_factory: wiringpi}\n", "gpio.pin_factory", "one of"),
    ("audio device", MINIMAL + "audio: {device: ''}\n", "audio.device", "device name"),
    ("audio latency", MINIMAL + "audio: {latency: medium}\n", "audio.latency", "low, high"),
    ("audio margin", MINIMAL + "audio: {margin_s: 0}\n", "audio.margin_s", ">= 0.5"),
    ("mqtt host missing", MINIMAL + "mqtt: {port: 8883}\n", "mqtt.host", "missing"),
    ("mqtt port", MINIMAL + "mqtt: {host: h, port: 70000}\n", "mqtt.port", "<= 65535"),
    ("session expiry short", MINIMAL + "mqtt: {host: h, session_expiry_s: 3600}\n",
     "mqtt.session_expiry_s", ">= 604800"),
    ("tls unknown key", MINIMAL + "mqtt: {host: h, tls: {cafile: x}}\n", "mqtt.tls.cafile",
     "known keys: ca, insecure"),
    ("district key not a JWK", MINIMAL + "district_keys: [{kty: RSA, n: x}]\n",
     "district_keys[0]", "Ed25519"),
    ("district key wrong kid", MINIMAL + "district_keys: [" + JWK[:-1] + ", kid: abc}]\n",
     "district_keys[0]", "thumbprint"),
    ("require_synced_clock", MINIMAL + "require_synced_clock: 1\n", "require_synced_clock",
     "true or false"),
    ("grace", MINIMAL + "schedule: {grace_s: -5}\n", "schedule.grace_s", ">= 0"),
    ("retention", MINIMAL + "outbox: {retention_days: 0}\n", "outbox.retention_days", ">= 1"),
    ("media local hosts", MINIMAL + "media: {allow_local_hosts: sometimes}\n", "media.allow_local_hosts",
     "true or false"),
    ("media deadline", MINIMAL + "media: {deadline_s: 0}\n", "media.deadline_s", ">= 0.1"),
    ("media unknown key", MINIMAL + "media: {allow_loopback: true}\n", "media.allow_loopback",
     "allow_local_hosts"),
    ("not a mapping", "- a\n- b\n", "(top level)", "mapping"),
    ("invalid yaml", "station: {id: [\n", "invalid YAML", "line"),
]


@pytest.mark.parametrize(("label", "text", "key", "hint"), BAD_CONFIGS,
                         ids=[case[0] for case in BAD_CONFIGS])
def test_config_bad_file_names_the_key(tmp_path: Path, label: str, text: str, key: str,
                                       hint: str) -> None:
    path = write(tmp_path, text)
    found = [p for p in problems(path) if key in p]
    assert found, f"{label}: no problem names {key!r}: {problems(path)}"
    assert str(path) in found[0]
    assert hint in found[0]


def test_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("{pin: 17}", "{pin: 99}") + "timezone: Mars/Olympus\ngpio: {pin_factory: x}\n"
    found = problems(write(tmp_path, text))
    assert len(found) == 3
    assert [p.split(": ")[1] for p in found] == ["timezone", "amplifier.pin", "gpio.pin_factory"]


def test_config_amp_only_ignores_broken_audio(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("{pin: 17}", "{pin: 5, active_high: false}")
                 + "gpio: {pin_factory: mock}\naudio: {device: [broken], latency: 7, bogus: 1}\n")
    with pytest.raises(ConfigError):
        load_station_config(path)
    amp = load_amp_config(path)
    assert (amp.amplifier.pin, amp.amplifier.active_high, amp.gpio.pin_factory) == (5, False, "mock")


def test_config_amp_only_ignores_other_amplifier_keys_but_checks_its_three(tmp_path: Path) -> None:
    path = write(tmp_path, "amplifier: {pin: 17, warmup: 1}\n")
    amp = load_amp_config(path)  # a typo must not stop amp-off (systemd's ExecStopPost)
    assert (amp.amplifier.pin, amp.amplifier.active_high, amp.gpio.pin_factory) == (17, True, "lgpio")
    path = write(tmp_path, "amplifier: {pin: 77, warmup: 1}\n")
    with pytest.raises(ConfigError) as info:
        load_amp_config(path)
    assert any("amplifier.pin: must be <= 53" in p for p in info.value.problems)
    assert not any("warmup" in p for p in info.value.problems)
