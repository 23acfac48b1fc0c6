"""The demo's last step: the web console on the demo's district, until Ctrl-C.

:func:`serve_console` creates a demo admin with a generated password (printed once, never
written to a file that stays), starts ``radio-district web`` on a free loopback port beside
the collector, prints the URL and the login, and returns when the user presses Ctrl-C (or
the console process dies). ``--no-web`` skips it (the tests' old behaviour).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from demo.district import DemoError, Paths, cli, run_cli
from demo.procs import ProcessSet
from district_collector.admin.local_broker import free_port

DEMO_ADMIN = "demo-admin"
READY_TIMEOUT_S = 60.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as answer:
            return bool(json.loads(answer.read()).get("ok"))
    except (OSError, ValueError, urllib.error.URLError):
        return False


def create_demo_admin(paths: Paths, log: Path) -> str:
    """Add the demo admin with a fresh random password and return the password. The
    password passes through a 0600 file that is deleted at once."""
    password = secrets.token_urlsafe(12)
    secret = paths.district_dir / ".demo-admin.password"
    secret.touch(mode=0o600)
    try:
        secret.write_text(password + "\n", encoding="utf-8")
        run_cli("radio-district", ["-c", str(paths.district_yaml), "user", "add", DEMO_ADMIN, "--role", "admin",
                                   "--password-file", str(secret)], log)
    finally:
        secret.unlink(missing_ok=True)
    return password


def serve_console(procs: ProcessSet, paths: Paths, env: dict[str, str], stop: threading.Event,
                  say: Callable[[str], None]) -> None:
    """Run the console until Ctrl-C (KeyboardInterrupt is taken as "done" here) or ``stop``."""
    password = create_demo_admin(paths, paths.logs / "setup.log")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = procs.start("web", [*cli("radio-district"), "-c", str(paths.district_yaml), "web",
                               "--listen", f"127.0.0.1:{port}"], env=env)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise DemoError(f"the web console did not start (see {paths.logs / 'web.log'})")
        time.sleep(0.2)
    say(f"Web console / Bảng điều khiển: {url}/")
    say(f"  login / đăng nhập: {DEMO_ADMIN}   password / mật khẩu: {password}   (shown only now)")
    say("  serving until Ctrl-C / nhấn Ctrl-C để dừng")
    try:
        while not stop.is_set() and proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("\nstopping the console and every process the demo started ...")
        return
    if proc.poll() is not None:
        raise DemoError(f"the web console exited {proc.returncode} (see {paths.logs / 'web.log'})")
