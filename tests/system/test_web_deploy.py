"""The console's shipped deployment files: its systemd unit (hardened like the collector's;
the exposure score itself is checked for every unit in test_deploy_units.py), the nginx
config, and the package data that makes templates and static files part of the wheel."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from mqtt_broker import make_district, make_tls_files
from test_deploy_units import VENV_BIN, _unit
from waiting import wait_until

from district_collector.admin.local_broker import free_port
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


def test_web_command_serves_https_with_certfile(tmp_path: Path) -> None:
    kit = make_district(tmp_path / "d")
    ca, cert, key = make_tls_files(tmp_path / "tls")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "district_collector.cli", "-c", str(kit.district_config), "web",
                             "--listen", f"127.0.0.1:{port}", "--certfile", str(cert), "--keyfile", str(key)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=str(ca))

    def login_page() -> http.client.HTTPResponse | None:
        try:
            return urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=context, timeout=10)
        except OSError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            return None
    try:
        with wait_until(login_page, 60, "the console over TLS") as answer:
            assert answer.status == 200 and "Đăng nhập" in answer.read().decode()
            assert "Secure" in answer.headers["set-cookie"] and answer.headers["strict-transport-security"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(("args", "message"), [
    (["--listen", "nowhere"], "--listen 'nowhere': give HOST:PORT"),
    (["--certfile", "/nonexistent.crt", "--keyfile", "/nonexistent.key"], "--certfile /nonexistent.crt: cannot be read"),
    (["--certfile", "/etc/hostname"], "--certfile and --keyfile go together"),
])
def test_web_command_bad_options_are_clear_errors(tmp_path: Path, args: list[str], message: str) -> None:
    kit = make_district(tmp_path / "d")
    done = subprocess.run([sys.executable, "-m", "district_collector.cli", "-c", str(kit.district_config), "web",
                           *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
