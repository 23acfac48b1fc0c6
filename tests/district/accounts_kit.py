"""A district config with two communes and its store, for the accounts tests."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from district_collector.config import DistrictConfig, load_district_config

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
PASSWORD = "ngựa đúng pin kẹp-7731"  # non-ASCII on purpose: bytes in the store are UTF-8
KEY = "zfiDOLJSTIhYsFBwh_ZVjcvj2biNFHuYHTU3BCQINuw"
KEY2 = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"

DISTRICT_YAML = f"""\
district: {{id: kon-ray, name: Huyện Kon Rẫy, timezone: Asia/Ho_Chi_Minh}}
database: collector.sqlite3
signing_key: district.key
stations:
  - id: dak-koi-01
    commune: {{code: "23335", name: Xã Đăk Kôi}}
    keys: [{{kty: OKP, crv: Ed25519, x: "{KEY}"}}]
  - id: dak-pne-01
    commune: {{code: "23320", name: Xã Đăk Pne}}
    keys: [{{kty: OKP, crv: Ed25519, x: "{KEY2}"}}]
"""


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "district.yaml"
    path.write_text(DISTRICT_YAML, encoding="utf-8")
    return path


def district_config(tmp_path: Path) -> DistrictConfig:
    return load_district_config(write_config(tmp_path))


def password_file(tmp_path: Path, text: str, mode: int = 0o600, name: str = "pw") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``radio-district -c CONFIG ARGS...`` as a user runs it: its own process, no terminal."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "district_collector.cli", "-c", str(config), *args],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                          timeout=120)
