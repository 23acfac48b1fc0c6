"""radio_protocol: times, topics, durable writes, config reader."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from radio_protocol.configschema import ConfigReader, load_yaml_file
from radio_protocol.durable import atomic_write
from radio_protocol.errors import ConfigError
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339, zone
from radio_protocol.topics import parse_topic, topic


def test_timefmt_millisecond_offset() -> None:
    at = datetime(2024, 3, 5, 6, 30, 0, 12345, tzinfo=zone("Asia/Ho_Chi_Minh"))
    assert format_rfc3339(at) == "2024-03-05T06:30:00.012+07:00"
    assert format_rfc3339(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000+00:00"
    assert parse_rfc3339("2024-03-05T06:30:00.012+07:00") == at.replace(microsecond=12000)


def test_timefmt_rejects_naive() -> None:
    with pytest.raises(ValueError):
        format_rfc3339(datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        parse_rfc3339("2024-01-01T00:00:00")


def test_topics_roundtrip_and_reject() -> None:
    name = topic("kon-ray", "dak-koi-01", "event")
    assert name == "cr/v1/kon-ray/station/dak-koi-01/event"
    assert parse_topic(name) == ("kon-ray", "dak-koi-01", "event")
    assert parse_topic("cr/v1/kon-ray/station/../event") is None
    assert parse_topic("cr/v1/Kon/station/a/event") is None


def test_durable_atomic_write_mode(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    atomic_write(path, b"one", mode=0o600)
    atomic_write(path, b"two", mode=0o600)
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["schedule.json"]


def test_configreader_collects_every_problem_with_hint() -> None:
    reader = ConfigReader("station.yaml")
    data = reader.mapping({"amplifer": {}, "pin": "x"}, "", ["amplifier", "pin"])
    reader.get(data, "", "pin", int)
    reader.get({}, "audio", "device", str)
    with pytest.raises(ConfigError) as info:
        reader.finish()
    text = str(info.value)
    assert "station.yaml: amplifer: unknown key; did you mean 'amplifier'?" in text
    assert "station.yaml: pin: must be an integer" in text
    assert "station.yaml: audio.device: missing (required)" in text


def test_configreader_bad_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("station:\n  id: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+"):
        load_yaml_file(path)


def test_configreader_yaml_refuses_python_tags(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text('station: !!python/object/apply:os.system ["touch pwned"]\n')
    with pytest.raises(ConfigError, match="evil.yaml"):
        load_yaml_file(path)
    assert not (tmp_path / "pwned").exists()


def test_configreader_removed_key_is_a_warning_saying_delete(caplog: pytest.LogCaptureFixture) -> None:
    reader = ConfigReader("district.yaml")
    reader.mapping({"max_batch": 5, "max_delay_s": 0.2}, "ack", ["max_batch", "max_also"],
                   removed={"max_delay_s": "batches are taken at once"})
    with caplog.at_level("WARNING"):
        reader.finish()  # no ConfigError: the service still starts
    assert "district.yaml: ack.max_delay_s: no longer used (batches are taken at once); delete this line" in caplog.text
    assert "did you mean" not in caplog.text


def test_cli_broken_pipe_is_quiet() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from radio_protocol.cli_base import run_main\n"
        "sys.exit(run_main('x', 'x', ['tests_pipe_cmd'], ['spew']))\n"
    )
    module = "def register(sub):\n    p = sub.add_parser('spew'); p.set_defaults(func=run)\n" \
             "def run(args):\n    for _ in range(100000): print('line ' * 20)\n    return 0\n"
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "tests_pipe_cmd.py").write_text(module)
        proc = subprocess.run(
            f"{sys.executable} -c \"{code}\" | head -c 10 >/dev/null",
            shell=True, capture_output=True, text=True,
            env={"PYTHONPATH": f"{tmp}:{Path(__file__).resolve().parents[2]}", "PATH": "/usr/bin:/bin"},
        )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
