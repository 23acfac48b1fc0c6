"""Shared by the ``radio-district provision`` tests (no tests here): a district directory
with its config (comments that provisioning must keep), signing key and CA file, and the
command as the district office types it."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from district_collector.cli import main as district_main
from radio_protocol.jose import load_or_create_private_key, public_jwk

DISTRICT_YAML = """\
# District config for the provisioning tests; comments must survive provisioning.
district:
  id: kon-ray
  name: "Huyện Kon Rẫy"
  timezone: Asia/Ho_Chi_Minh
database: collector.sqlite3
signing_key: district.key
mqtt:
  host: mqtt.kon-ray.example      # the broker, as the stations reach it
  port: 8883
  username: collector
  tls:
    ca: ca.crt
stations:
  - id: dak-koi-01                # the first station
    commune: {{code: "23335", name: "Xã Đăk Kôi"}}
    level: commune
    keys:
      - {{kty: OKP, crv: Ed25519, x: "{koi_x}"}}
media:
  base_url: https://media.kon-ray.example/media
  dir: media
"""



def new_jwk() -> dict[str, str]:
    """The public JWK of a fresh Ed25519 key (a station's, as keygen prints it)."""
    return public_jwk(Ed25519PrivateKey.generate().public_key())


def make_provision_district(tmp_path: Path) -> Path:
    """``tmp_path/district/district.yaml`` (0640) of :data:`DISTRICT_YAML` with station
    dak-koi-01 registered, its signing key and a CA file beside it."""
    root = tmp_path / "district"
    root.mkdir()
    load_or_create_private_key(root / "district.key")
    (root / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n")
    path = root / "district.yaml"
    path.write_text(DISTRICT_YAML.format(koi_x=new_jwk()["x"]), encoding="utf-8")
    path.chmod(0o640)
    return path


def provision(district: Path, *args: str) -> int:
    """``radio-district -c DISTRICT provision ARGS...``; its exit code."""
    return district_main(["-c", str(district), "provision", *args])


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
