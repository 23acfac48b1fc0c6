"""``radio-district check``: the config and the files it names, every problem at once, nothing created."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mqtt_broker import make_tls_files

from district_collector.cli import main
from radio_protocol.jose import load_or_create_private_key

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "district.example.yaml"


def _district(root: Path, *, key: bool = True, **changes: Any) -> Path:
    """``root/district.yaml``: the example with its files under ``root`` (a usable password
    file, a real CA, the signing key unless ``key`` is False); ``changes`` replace top-level
    sections."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["database"] = "state/collector.sqlite3"
    data["signing_key"] = "state/district.key"
    data["mqtt"]["password_file"] = "collector.password"
    data["mqtt"]["tls"]["ca"] = "district-ca.crt"
    data.update(changes)
    (root / "collector.password").write_text("s3cret\n", encoding="utf-8")
    ca, _, _ = make_tls_files(root / "tls")
    (root / "district-ca.crt").write_bytes(ca.read_bytes())
    if key:
        load_or_create_private_key(root / "state" / "district.key")
    path = root / "district.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _problems(out: str, config: Path) -> list[str]:
    lines = out.splitlines()
    assert lines[0] == f"{config}: {len(lines) - 1} problem(s):"
    assert all(line.startswith("  - ") for line in lines[1:])
    return [line[4:] for line in lines[1:]]


def test_check_ok_names_district_stations_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _district(tmp_path)
    assert main(["-c", str(config), "check"]) == 0
    assert capsys.readouterr().out == f"OK: {config} (district kon-ray, 3 station(s), key present)\n"


def test_check_without_key_says_run_keygen_and_creates_nothing(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = _district(tmp_path, key=False)
    assert main(["-c", str(config), "check"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("no key yet (run keygen))")
    assert not (tmp_path / "state").exists()  # no key, no database directory


def test_check_offline_district_needs_no_broker_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _district(tmp_path, mqtt=None)
    (tmp_path / "collector.password").unlink()
    (tmp_path / "district-ca.crt").unlink()
    assert main(["-c", str(config), "check"]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {config} (district kon-ray")


def _unreadable_key(root: Path) -> None:
    (root / "state" / "district.key").chmod(0o644)


def _garbage_key(root: Path) -> None:
    (root / "state" / "district.key").write_text("not a key\n", encoding="utf-8")


def _empty_password(root: Path) -> None:
    (root / "collector.password").write_text("  \n", encoding="utf-8")


def _missing_password(root: Path) -> None:
    (root / "collector.password").unlink()


def _binary_password(root: Path) -> None:
    (root / "collector.password").write_bytes(b"\xff\xfe\x00")


def _bad_ca(root: Path) -> None:
    (root / "district-ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
                                          encoding="utf-8")


def _ca_directory(root: Path) -> None:
    (root / "district-ca.crt").unlink()
    (root / "district-ca.crt").mkdir()


@pytest.mark.parametrize(("damage", "expected"), [
    (_unreadable_key, "signing_key: {root}/state/district.key"),
    (_garbage_key, "signing_key: {root}/state/district.key: not a PEM private key"),
    (_empty_password, "mqtt.password_file: {root}/collector.password is empty"),
    (_missing_password, "mqtt.password_file: cannot read {root}/collector.password: No such file or directory"),
    (_binary_password, "mqtt.password_file: {root}/collector.password is not UTF-8 text"),
    (_bad_ca, "mqtt.tls.ca: {root}/district-ca.crt holds no usable PEM CA certificate"),
    (_ca_directory, "mqtt.tls.ca: cannot read {root}/district-ca.crt"),
], ids=lambda v: getattr(v, "__name__", "expected"))
def test_check_names_the_key_and_file_of_each_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       damage: Callable[[Path], None], expected: str) -> None:
    config = _district(tmp_path)
    damage(tmp_path)
    assert main(["-c", str(config), "check"]) == 1
    [problem] = _problems(capsys.readouterr().out, config)
    assert problem.startswith(f"{config}: {expected.format(root=tmp_path)}")


def test_check_lists_every_file_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _district(tmp_path)
    _garbage_key(tmp_path)
    _missing_password(tmp_path)
    _bad_ca(tmp_path)
    assert main(["-c", str(config), "check"]) == 1
    problems = _problems(capsys.readouterr().out, config)
    assert [p.split(": ")[1] for p in problems] == ["signing_key", "mqtt.password_file", "mqtt.tls.ca"]


def test_check_lists_every_config_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _district(tmp_path, district={"id": "Kon Ray!", "name": "x", "timezone": "Mars/Olympus"},
                       colour="blue")
    assert main(["-c", str(config), "check"]) == 1
    problems = _problems(capsys.readouterr().out, config)
    assert len(problems) == 3
    assert any("district.id" in p for p in problems)
    assert any("district.timezone" in p for p in problems)
    assert any("colour" in p for p in problems)


def test_check_needs_a_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 1
    assert "needs -c CONFIG" in capsys.readouterr().err
