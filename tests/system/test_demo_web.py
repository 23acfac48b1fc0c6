"""``make demo`` ends with the web console: it prints the URL and a generated demo login,
that login works against the running console (which shows the demo's stations), and
Ctrl-C stops the console and every other process, exit code 0."""

from __future__ import annotations

import http.cookiejar
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_demo_run import REPO, processes_mentioning


def _login(url: str, name: str, password: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(url + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, page
    form = urllib.parse.urlencode({"csrf": token.group(1), "name": name, "password": password}).encode()
    opener.open(url + "/login", data=form, timeout=30)
    assert any(c.name == "session" for c in jar), "no session cookie after the demo login"
    return opener


@pytest.mark.timeout(240)
def test_demo_ends_with_the_console_and_its_printed_login(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "demo.run", "--days", "3", "--stations", "1", "--fast",
                             "--out", str(out)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline and not any("serving until Ctrl-C" in s for s in seen):
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "".join(seen)
        text = "".join(seen)
        url = re.search(r"Web console / Bảng điều khiển: (http://127\.0\.0\.1:\d+)/", text)
        login = re.search(r"login / đăng nhập: (\S+)\s+password / mật khẩu: (\S+)", text)
        assert url and login, text
        assert "radio-district verify: VERIFIED" in text
        opener = _login(url.group(1), login.group(1), login.group(2))
        stations = json.loads(opener.open(url.group(1) + "/api/v1/stations", timeout=30).read())["stations"]
        assert len(stations) >= 1 and all(s["last_seen_at"] for s in stations)
        assert not list((out / "district").glob("*.password"))  # the password was only printed
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert processes_mentioning(str(out)) == []
