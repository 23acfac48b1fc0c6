"""``radio-district user ...``: the console's users, their API tokens and the audit log.

Every change is made through :mod:`district_collector.accounts.service` and audited with
the actor ``cli:<unix user>``. Passwords come from ``--password-file F`` (one line; the file
must not be readable by group or others) or, on a terminal, from a prompt typed twice;
they are never echoed, logged or stored in clear.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import stat
import sys
from pathlib import Path

from district_collector.accounts import service
from district_collector.accounts.model import ROLES, AccountError
from district_collector.accounts.passwords import MIN_LENGTH
from district_collector.accounts.tokens import parse_expiry
from district_collector.config import DistrictConfig, load_district_config
from district_collector.store.opening import open_store
from radio_protocol.cli_base import Subcommands, require_config

PROG = "radio-district"


def _config(args: argparse.Namespace) -> DistrictConfig:
    return load_district_config(require_config(args, PROG))


def cli_actor() -> str:
    """``cli:<unix user>``: who made a change from the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def read_password_file(path: Path) -> str:
    """The password in ``path``: the file's text without one trailing newline. AccountError
    when it cannot be read, is readable by group or others, or holds more than one line."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            raise AccountError(f"--password-file {path}: refused, other users can read it (mode "
                               f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccountError(f"--password-file {path}: cannot read it: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise AccountError(f"--password-file {path}: not UTF-8 text") from exc
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            text = text[: -len(ending)]
            break
    if "\n" in text or "\r" in text:
        raise AccountError(f"--password-file {path}: holds more than one line (put the password "
                           "alone on the first line)")
    return text


def new_password(args: argparse.Namespace) -> str:
    """The new password: from ``--password-file``, else typed twice on a terminal."""
    if args.password_file:
        return read_password_file(Path(args.password_file))
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise AccountError("no terminal to type the password on: give --password-file F (one line, "
                           "chmod 600)")
    first = getpass.getpass(f"New password for {args.name} (at least {MIN_LENGTH} characters): ")
    second = getpass.getpass("The same password again: ")
    if first != second:
        raise AccountError("the two passwords differ: nothing changed")
    return first


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table."""
    every = [header, *rows]
    widths = [max(len(r[i]) for r in every) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in every)


# --- handlers ---------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    config = _config(args)
    service.check_new_user(config, args.name, args.role, args.commune)  # before any prompt
    with open_store(config) as store:
        if store.user_row(args.name) is not None:
            raise AccountError(f"a user called {args.name!r} already exists")
        user = service.create_user(store, config, args.name, args.role, args.commune,
                                   new_password(args), cli_actor())
    where = f", commune {user.commune}" if user.commune else ""
    print(f"user {user.name} added (role {user.role}{where})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    config = _config(args)
    with open_store(config) as store:
        users = service.user_details(store)
    if args.format == "json":
        print(json.dumps([{"name": u.user.name, "role": u.user.role, "commune": u.user.commune,
                           "disabled": u.user.disabled, "created_at": u.created_at,
                           "last_login_at": u.last_login_at} for u in users],
                         ensure_ascii=False, indent=2))
        return 0
    if not users:
        print(f"no users yet: {PROG} -c CONFIG user add NAME --role admin")
        return 0
    print(_table(["name", "role", "commune", "disabled", "created", "last login"],
                 [[u.user.name, u.user.role, u.user.commune or "-", "yes" if u.user.disabled else "no",
                   u.created_at, u.last_login_at or "never"] for u in users]))
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    config = _config(args)
    with open_store(config) as store:
        service.set_disabled(store, args.name, True, cli_actor())
    print(f"user {args.name} disabled (its sessions and API tokens ended)")
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    config = _config(args)
    with open_store(config) as store:
        service.set_disabled(store, args.name, False, cli_actor())
    print(f"user {args.name} enabled")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    config = _config(args)
    with open_store(config) as store:
        if store.user_row(args.name) is None:  # before any prompt
            raise AccountError(f"no user called {args.name!r} ({PROG} user list shows them)")
        service.set_password(store, args.name, new_password(args), cli_actor())
    print(f"password of {args.name} changed (its login sessions ended)")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    expires_in = parse_expiry(args.expires)
    config = _config(args)
    with open_store(config) as store:
        token = service.issue_token(store, args.name, expires_in, cli_actor())
    until = "never expires" if expires_in is None else f"expires in {args.expires}"
    print(f"API token of {args.name} ({until}); shown only now, send it as "
          "'Authorization: Bearer TOKEN':", file=sys.stderr)
    print(token)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise AccountError(f"--limit {args.limit}: give a positive number")
    config = _config(args)
    with open_store(config) as store:
        entries = service.audit_log(store, args.limit)
    if args.format == "json":
        print(json.dumps([{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                           "detail": e.detail} for e in entries], ensure_ascii=False, indent=2))
        return 0
    print(_table(["id", "at", "actor", "action", "detail"],
                 [[str(e.id), e.at, e.actor, e.action,
                   json.dumps(e.detail, ensure_ascii=False, sort_keys=True)] for e in entries]))
    return 0


# --- parsers ----------------------------------------------------------------------------


def register(sub: Subcommands) -> None:
    top = sub.add_parser(
        "user", help="the web console's users, API tokens and audit log",
        description="Manage the web console's users (roles admin, district, commune), their API "
                    "tokens, and read the audit log. Every change is audited as cli:<unix user>.")
    users = top.add_subparsers(dest="user_command", metavar="ACTION")
    users.required = True

    def password_file(p: argparse.ArgumentParser) -> None:
        p.add_argument("--password-file", metavar="F",
                       help="read the password from F (one line; chmod 600); without it, type it "
                            "twice on the terminal")

    p = users.add_parser("add", help="add a user",
                         description="Add a user. admin: manages users; district: reads every "
                                     "commune and publishes; commune: reads its --commune only. "
                                     f"Passwords have at least {MIN_LENGTH} characters.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True, metavar="|".join(ROLES),
                   help="admin, district or commune")
    p.add_argument("--commune", metavar="CODE", help="the commune code (role commune only)")
    password_file(p)
    p.set_defaults(func=cmd_add)

    p = users.add_parser("list", help="list the users (never their password hashes)",
                         description="List the users: name, role, commune, disabled, when created, "
                                     "last login. Password hashes are never shown.")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_list)

    p = users.add_parser("disable", help="disable a user and end its sessions and API tokens",
                         description="Disable a user: it can no longer log in, and its login "
                                     "sessions and API tokens end at once (enable does not bring "
                                     "them back).")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_disable)

    p = users.add_parser("enable", help="enable a disabled user (its old tokens stay revoked)",
                         description="Enable a disabled user: it can log in again with its "
                                     "password; the API tokens it had stay revoked.")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_enable)

    p = users.add_parser("passwd", help="set a user's password (ends its login sessions)",
                         description="Set a user's password (at least "
                                     f"{MIN_LENGTH} characters); its login sessions end, its API "
                                     "tokens stay.")
    p.add_argument("name", metavar="NAME")
    password_file(p)
    p.set_defaults(func=cmd_passwd)

    p = users.add_parser("token", help="issue an API token and print it once on stdout",
                         description="Issue an API token for NAME and print it once on stdout "
                                     "(the store keeps only its SHA-256). Clients send it as "
                                     "'Authorization: Bearer TOKEN'.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--expires", default="90d", metavar="90d|12h|never",
                   help="lifetime in days (d), hours (h) or minutes (m), or never (default 90d)")
    p.set_defaults(func=cmd_token)

    p = users.add_parser("audit", help="the audit log, newest first",
                         description="The audit log, newest first: when, who (cli:<unix user> or "
                                     "web:<user>), what, and its details.")
    p.add_argument("--limit", type=int, default=200, metavar="N", help="entries to show (default 200)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_audit)
