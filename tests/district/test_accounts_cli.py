"""``radio-district user ...`` run as a user runs it: its own process, real store, no terminal."""

from __future__ import annotations

import getpass
import json
import os
import pty
import select
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from accounts_kit import NOW, PASSWORD, REPO, password_file, run_cli, write_config

from district_collector.accounts import service
from district_collector.cli import main as district_main
from district_collector.config import load_district_config
from district_collector.store.opening import open_store


def _ok(config: Path, *args: str) -> str:
    result = run_cli(config, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_user_cli_first_admin_token_list_and_audit(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    pw = password_file(tmp_path, PASSWORD + "\n")  # the editor's newline is not the password's
    assert _ok(config, "user", "add", "an", "--role", "admin", "--password-file", str(pw)) == \
        "user an added (role admin)\n"
    assert _ok(config, "user", "add", "hoa", "--role", "commune", "--commune", "23335",
               "--password-file", str(pw)) == "user hoa added (role commune, commune 23335)\n"
    result = run_cli(config, "user", "token", "an", "--expires", "12h")
    assert result.returncode == 0 and "shown only now" in result.stderr
    token = result.stdout.removesuffix("\n")
    assert len(token) == 43 and result.stdout == token + "\n"  # nothing else on stdout

    with open_store(load_district_config(config)) as store:
        assert service.authenticate(store, "an", PASSWORD, None, NOW).role == "admin"
        user = service.token_user(store, token, datetime.now(UTC))
        assert user is not None and user.name == "an"

    listed = json.loads(_ok(config, "user", "list", "--format", "json"))
    assert [(u["name"], u["role"], u["commune"], u["disabled"]) for u in listed] == [
        ("an", "admin", None, False), ("hoa", "commune", "23335", False)]
    assert listed[0]["last_login_at"] == "2026-12-03T08:00:00.000+00:00"
    assert set(listed[0]) == {"name", "role", "commune", "disabled", "created_at", "last_login_at"}
    table = _ok(config, "user", "list")
    assert table.splitlines()[0].split() == ["name", "role", "commune", "disabled", "created", "last",
                                             "login"]
    assert "argon2" not in table and "never" in table.splitlines()[2]

    actor = f"cli:{getpass.getuser()}"
    audit = json.loads(_ok(config, "user", "audit", "--format", "json"))
    assert [(e["actor"], e["action"]) for e in audit] == [
        (actor, "token.issue"), (actor, "user.add"), (actor, "user.add")]
    assert audit[0]["detail"]["name"] == "an" and token not in json.dumps(audit)
    assert len(_ok(config, "user", "audit", "--limit", "1").splitlines()) == 2
    db = (tmp_path / "collector.sqlite3").read_bytes()
    assert PASSWORD.encode("utf-8") not in db and token.encode() not in db


def test_user_cli_disable_enable_and_passwd(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    pw = password_file(tmp_path, PASSWORD)
    _ok(config, "user", "add", "binh", "--role", "district", "--password-file", str(pw))
    token = _ok(config, "user", "token", "binh", "--expires", "never").strip()
    assert _ok(config, "user", "disable", "binh") == \
        "user binh disabled (its sessions and API tokens ended)\n"
    assert json.loads(_ok(config, "user", "list", "--format", "json"))[0]["disabled"] is True
    assert _ok(config, "user", "enable", "binh") == "user binh enabled\n"
    new = password_file(tmp_path, "một mật khẩu mới dài\r\n", name="new")
    assert _ok(config, "user", "passwd", "binh", "--password-file", str(new)) == \
        "password of binh changed (its login sessions ended)\n"
    with open_store(load_district_config(config)) as store:
        assert service.token_user(store, token, NOW) is None  # disabling revoked it for good
        assert service.authenticate(store, "binh", "một mật khẩu mới dài", None, NOW).name == "binh"
    actions = [e["action"] for e in json.loads(_ok(config, "user", "audit", "--format", "json"))]
    assert actions == ["user.passwd", "user.enable", "user.disable", "token.issue", "user.add"]


# (what is wrong, the arguments (PW: a good password file, TMP: the test's directory), message)
ERRORS = [
    ("unknown-user-disable", ["user", "disable", "zed"], "no user called 'zed'"),
    ("unknown-user-enable", ["user", "enable", "zed"], "no user called 'zed'"),
    ("unknown-user-passwd", ["user", "passwd", "zed", "--password-file", "PW"], "no user called 'zed'"),
    ("unknown-user-token", ["user", "token", "zed"], "no user called 'zed'"),
    ("duplicate-name", ["user", "add", "an", "--role", "district", "--password-file", "PW"],
     "a user called 'an' already exists"),
    ("duplicate-name-before-prompt", ["user", "add", "an", "--role", "district"],
     "a user called 'an' already exists"),
    ("bad-role", ["user", "add", "lan", "--role", "root", "--password-file", "PW"],
     "role 'root': expected one of admin, district, commune"),
    ("commune-missing", ["user", "add", "lan", "--role", "commune", "--password-file", "PW"],
     "a commune user needs --commune CODE (the registry's communes: 23320, 23335)"),
    ("commune-unknown", ["user", "add", "lan", "--role", "commune", "--commune", "11111",
                         "--password-file", "PW"], "commune '11111' is not in the registry of"),
    ("commune-for-admin", ["user", "add", "lan", "--role", "admin", "--commune", "23335",
                           "--password-file", "PW"], "role admin sees every commune: --commune is only for role commune"),
    ("commune-for-district", ["user", "add", "lan", "--role", "district", "--commune", "23335",
                              "--password-file", "PW"], "role district sees every commune: --commune is only for role commune"),
    ("bad-name", ["user", "add", "Lan/..", "--role", "admin", "--password-file", "PW"],
     "user name 'Lan/..': use 1 to 64 lowercase letters"),
    ("short-password", ["user", "add", "lan", "--role", "admin", "--password-file", "TMP/short"],
     "the password is too short (9 characters; at least 10)"),
    ("readable-password-file", ["user", "add", "lan", "--role", "admin", "--password-file", "TMP/open"],
     "refused, other users can read it (mode 0644); run: chmod 600"),
    ("two-line-password-file", ["user", "add", "lan", "--role", "admin", "--password-file", "TMP/two"],
     "holds more than one line"),
    ("missing-password-file", ["user", "add", "lan", "--role", "admin", "--password-file", "TMP/none"],
     "TMP/none: cannot read it: No such file or directory"),
    ("no-terminal", ["user", "add", "lan", "--role", "admin"],
     "no terminal to type the password on: give --password-file F"),
    ("no-terminal-passwd", ["user", "passwd", "an"], "no terminal to type the password on"),
    ("bad-expiry", ["user", "token", "an", "--expires", "soon"],
     "--expires 'soon': expected a number of days, hours or minutes (90d, 12h, 30m) or never"),
    ("bad-limit", ["user", "audit", "--limit", "0"], "--limit 0: give a positive number"),
]


@pytest.fixture(scope="module")
def one_admin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A district config whose store holds the admin ``an`` (made once for the table)."""
    tmp = tmp_path_factory.mktemp("users")
    config = write_config(tmp)
    _ok(config, "user", "add", "an", "--role", "admin", "--password-file",
        str(password_file(tmp, PASSWORD)))
    password_file(tmp, "nine-char\n", name="short")
    password_file(tmp, PASSWORD, mode=0o644, name="open")
    password_file(tmp, PASSWORD + "\nsecond line\n", name="two")
    return config


@pytest.mark.parametrize(("args", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_user_cli_errors_are_one_clear_line_and_change_nothing(
        one_admin: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The command's own code in this process (stdin is no terminal here either), for speed:
    the table would take minutes as processes."""
    tmp = one_admin.parent
    argv = [a.replace("TMP", str(tmp)).replace("PW", str(tmp / "pw")) for a in args]
    before = _accounts_rows(tmp / "collector.sqlite3")
    capsys.readouterr()
    code = district_main(["-c", str(one_admin), *argv])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert out == ""
    assert "Traceback" not in err and "unexpected error" not in err
    assert err.startswith("radio-district: error: ") and err.count("\n") == 1, err
    assert message.replace("TMP", str(tmp)) in err
    assert PASSWORD not in err
    assert _accounts_rows(tmp / "collector.sqlite3") == before


def _accounts_rows(db: Path) -> list[tuple[object, ...]]:
    """Every row of the users, tokens and audit tables."""
    with sqlite3.connect(db) as conn:
        return [row for table in ("users", "api_tokens", "audit_log")
                for row in conn.execute(f"SELECT * FROM {table}")]


# The prompts, in order, that each answer follows (what the terminal shows last).
PROMPTS = [b"(at least 10 characters):", b"The same password again:"]


def _on_terminal(config: Path, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (its controlling terminal, as getpass wants), type
    each answer once the next of :data:`PROMPTS` ends what it shows; (exit status,
    everything it showed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the CLI
        os.execve(sys.executable, [sys.executable, "-m", "district_collector.cli", "-c", str(config),
                                   *args], env)
    shown = b""
    pending = list(answers)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            prompt = PROMPTS[len(answers) - len(pending)] if pending else None
            if prompt is not None and shown.rstrip().endswith(prompt):
                os.write(fd, pending.pop(0).encode("utf-8") + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the command did not end; it showed: {shown!r}")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


def test_user_cli_password_typed_twice_on_a_terminal(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, shown = _on_terminal(config, ["user", "add", "an", "--role", "admin"], [PASSWORD, PASSWORD])
    assert code == 0, shown
    assert "New password for an (at least 10 characters): " in shown and "user an added" in shown
    assert PASSWORD not in shown  # not echoed
    code, shown = _on_terminal(config, ["user", "passwd", "an"], [PASSWORD + "1", PASSWORD + "2"])
    assert code == 1 and "the two passwords differ: nothing changed" in shown
    with open_store(load_district_config(config)) as store:
        assert service.authenticate(store, "an", PASSWORD, None, NOW).name == "an"
