"""The console's shipped deployment files: its systemd unit (hardened like the collector's;
the exposure score itself is checked for every unit in test_deploy_units.py), the nginx
config, and the package data that makes templates and static files part of the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

from test_deploy_units import VENV_BIN, _unit

from district_collector.cli import COMMAND_MODULES
from radio_protocol.cli_base import build_parser

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "radio-district-web.service"
NGINX = REPO / "config" / "nginx" / "radio-district-web.conf"


def test_web_unit_runs_the_console_on_loopback_as_the_collectors_user() -> None:
    u = _unit(UNIT)
    s = lambda key: u.get(f"Service.{key}", [])  # noqa: E731
    argv = s("ExecStart")[0].split()
    assert argv[0] == VENV_BIN + "radio-district"
    args = build_parser("radio-district", "", COMMAND_MODULES).parse_args(argv[1:])
    assert args.command == "web" and args.listen == "127.0.0.1:8080" and args.config.startswith("/etc/")
    assert s("User") == ["radio-district"] and s("StateDirectory") == ["commune-radio-district"]
    assert s("IPAddressDeny") == ["any"] and s("IPAddressAllow") == ["localhost"]
    assert s("MemoryDenyWriteExecute") == ["yes"] and s("NoNewPrivileges") == ["yes"]
    assert s("Restart") == ["always"] and u["Install.WantedBy"] == ["multi-user.target"]


def test_web_nginx_config_terminates_tls_and_forwards_the_scheme() -> None:
    text = NGINX.read_text(encoding="utf-8")
    assert "listen 443 ssl" in text and "ssl_certificate " in text and "ssl_certificate_key" in text
    assert "proxy_pass http://127.0.0.1:8080;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "return 301 https://" in text


def test_web_templates_and_static_files_ship_in_the_wheel() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["district_collector.web"]
    web = REPO / "district_collector" / "web"
    shipped = {p for pattern in patterns for p in web.glob(pattern)}
    needed = {p for p in web.rglob("*") if p.is_file() and p.suffix in (".html", ".css", ".js", ".svg")}
    assert needed and needed <= shipped
    extras = data["project"]["optional-dependencies"]
    for name in ("starlette", "jinja2", "uvicorn", "python-multipart", "argon2-cffi"):
        assert any(d.startswith(name) for d in extras["district"]), name
    for name in ("selenium", "httpx"):
        assert any(d.startswith(name) for d in extras["test"]), name
