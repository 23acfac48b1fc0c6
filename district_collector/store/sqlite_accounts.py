"""The accounts tables on the SQLite store: a mixin of
:class:`~district_collector.store.sqlite.SqliteStore` (contracts in
:mod:`district_collector.store.base_accounts`).

Tables (:data:`ACCOUNTS_SCHEMA`, created when the store opens for writing): ``users``,
``api_tokens`` (by SHA-256 of the token), ``sessions`` (by SHA-256 of the session id),
``login_failures`` (one row per failed login and key), ``audit_log`` (``detail`` a JSON
object's text). Times are RFC 3339 UTC text with milliseconds, so text order is time order.
Each write is its own ``BEGIN IMMEDIATE`` .. ``COMMIT`` transaction (durable as the
evidence: WAL, ``synchronous=FULL``); any failure rolls it back and raises StoreError.
"""

from __future__ import annotations

import logging
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from district_collector.store.base import StoreError
from district_collector.store.base_accounts import (
    AccountsStore,
    AuditRecord,
    AuditRow,
    SessionRow,
    TokenRow,
    UserRow,
)
from district_collector.store.migrations.sqlite_versions import record_versions

ACCOUNTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('admin', 'district', 'commune')),
    commune TEXT, password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, last_login_at TEXT
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_sha256 TEXT PRIMARY KEY, user_name TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens(user_name);
CREATE TABLE IF NOT EXISTS sessions (
    session_sha256 TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_name);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires_at);
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, subject TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures(scope, subject, at);
CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures(at);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, detail TEXT NOT NULL
);
"""

log = logging.getLogger(__name__)

# The accounts part's schema version (as the PostgreSQL steps number it:
# district_collector.store.migrations.pg_accounts).
ACCOUNTS_VERSION = 1
_USER_COLUMNS = "name, role, commune, password_hash, disabled, created_at, last_login_at"
_T = TypeVar("_T")


def utc_text(at: datetime) -> str:
    """An aware time as the accounts tables write it: RFC 3339 UTC with milliseconds."""
    if at.tzinfo is None:
        raise ValueError("the accounts store takes aware datetimes only")
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def _user(r: tuple[object, ...]) -> UserRow:
    return UserRow(str(r[0]), str(r[1]), None if r[2] is None else str(r[2]), str(r[3]),
                   bool(r[4]), str(r[5]), None if r[6] is None else str(r[6]))


class SqliteAccountsMixin(AccountsStore):
    """:class:`AccountsStore` over ``self._db`` (the store's autocommit connection)."""

    _db: sqlite3.Connection
    path: Path

    def _open_accounts(self) -> None:
        """Create the accounts tables (:data:`ACCOUNTS_SCHEMA`), record their version in
        ``schema_version`` (part ``accounts``), and keep the store's files
        unreadable by group and others, since they now hold password hashes (a file this
        user cannot chmod is left as it is; the state directory is 0700 anyway)."""
        self._db.executescript(ACCOUNTS_SCHEMA)
        record_versions(self._db, {"accounts": ACCOUNTS_VERSION})
        for suffix in ("", "-wal", "-shm"):
            path = self.path.with_name(self.path.name + suffix)
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
                if mode & 0o077:
                    path.chmod(mode & 0o700)
                    log.debug("store file made private path=%s mode=%04o", path, mode & 0o700)
            except OSError:
                continue

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT``; rolled back and StoreError on any failure."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            try:
                if db.in_transaction:
                    db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: {what} not stored: {exc}") from exc
            raise

    def _read(self, what: str, query: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            return query(self._db)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read {what}: {exc}") from exc

    @staticmethod
    def _audit(db: sqlite3.Connection, audit: AuditRecord) -> None:
        db.execute("INSERT INTO audit_log(at, actor, action, detail) VALUES (?,?,?,?)",
                   (utc_text(audit.at), audit.actor, audit.action, audit.detail_json))

    # --- users --------------------------------------------------------------------------

    def add_user(self, row: UserRow, audit: AuditRecord) -> bool:
        with self._transaction("user") as db:
            if db.execute("SELECT 1 FROM users WHERE name=?", (row.name,)).fetchone():
                return False
            db.execute(f"INSERT INTO users({_USER_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                       (row.name, row.role, row.commune, row.password_hash, int(row.disabled),
                        row.created_at, row.last_login_at))
            self._audit(db, audit)
        return True

    def user_row(self, name: str) -> UserRow | None:
        r = self._read("users", lambda db: db.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE name=?", (name,)).fetchone())
        return None if r is None else _user(r)

    def user_rows(self) -> list[UserRow]:
        rows = self._read("users", lambda db: db.execute(
            f"SELECT {_USER_COLUMNS} FROM users ORDER BY name").fetchall())
        return [_user(r) for r in rows]

    def set_user_password_hash(self, name: str, password_hash: str,
                               audit: AuditRecord | None) -> bool:
        with self._transaction("password") as db:
            if db.execute("UPDATE users SET password_hash=? WHERE name=?",
                          (password_hash, name)).rowcount != 1:
                return False
            if audit is not None:
                db.execute("DELETE FROM sessions WHERE user_name=?", (name,))
                self._audit(db, audit)
        return True

    def set_user_disabled(self, name: str, disabled: bool, audit: AuditRecord) -> bool:
        with self._transaction("user state") as db:
            if db.execute("UPDATE users SET disabled=? WHERE name=?",
                          (int(disabled), name)).rowcount != 1:
                return False
            if disabled:
                db.execute("DELETE FROM sessions WHERE user_name=?", (name,))
                db.execute("DELETE FROM api_tokens WHERE user_name=?", (name,))
            self._audit(db, audit)
        return True

    def login_succeeded(self, name: str, at: datetime) -> None:
        with self._transaction("login") as db:
            db.execute("UPDATE users SET last_login_at=? WHERE name=?", (utc_text(at), name))
            db.execute("DELETE FROM login_failures WHERE scope='user' AND subject=?", (name,))

    # --- failed logins ------------------------------------------------------------------

    def add_login_failure(self, keys: list[tuple[str, str]], at: datetime,
                          forget_before: datetime) -> None:
        with self._transaction("failed login") as db:
            db.executemany("INSERT INTO login_failures(scope, subject, at) VALUES (?,?,?)",
                           [(scope, subject, utc_text(at)) for scope, subject in keys])
            db.execute("DELETE FROM login_failures WHERE at < ?", (utc_text(forget_before),))

    def login_failure_times(self, scope: str, subject: str, since: datetime) -> list[str]:
        rows = self._read("failed logins", lambda db: db.execute(
            "SELECT at FROM login_failures WHERE scope=? AND subject=? AND at >= ? ORDER BY at",
            (scope, subject, utc_text(since))).fetchall())
        return [str(r[0]) for r in rows]

    # --- API tokens ---------------------------------------------------------------------

    def add_token(self, row: TokenRow, audit: AuditRecord) -> None:
        with self._transaction("token") as db:
            db.execute("INSERT INTO api_tokens(token_sha256, user_name, created_at, expires_at)"
                       " VALUES (?,?,?,?)", (row.token_sha256, row.user, row.created_at, row.expires_at))
            self._audit(db, audit)

    def token_row(self, token_sha256: str) -> TokenRow | None:
        r = self._read("tokens", lambda db: db.execute(
            "SELECT token_sha256, user_name, created_at, expires_at FROM api_tokens"
            " WHERE token_sha256=?", (token_sha256,)).fetchone())
        return None if r is None else TokenRow(r[0], r[1], r[2], r[3])

    def user_tokens(self, name: str) -> list[TokenRow]:
        rows = self._read("tokens", lambda db: db.execute(
            "SELECT token_sha256, user_name, created_at, expires_at FROM api_tokens"
            " WHERE user_name=? ORDER BY created_at", (name,)).fetchall())
        return [TokenRow(r[0], r[1], r[2], r[3]) for r in rows]

    # --- sessions -----------------------------------------------------------------------

    def add_session(self, row: SessionRow, expired_before: datetime) -> None:
        with self._transaction("session") as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (utc_text(expired_before),))
            db.execute("INSERT INTO sessions(session_sha256, user_name, csrf, created_at, expires_at)"
                       " VALUES (?,?,?,?,?)",
                       (row.session_sha256, row.user, row.csrf, row.created_at, row.expires_at))

    def session_row(self, session_sha256: str) -> SessionRow | None:
        r = self._read("sessions", lambda db: db.execute(
            "SELECT session_sha256, user_name, csrf, created_at, expires_at FROM sessions"
            " WHERE session_sha256=?", (session_sha256,)).fetchone())
        return None if r is None else SessionRow(r[0], r[1], r[2], r[3], r[4])

    def delete_session(self, session_sha256: str) -> None:
        with self._transaction("session end") as db:
            db.execute("DELETE FROM sessions WHERE session_sha256=?", (session_sha256,))

    # --- audit log ----------------------------------------------------------------------

    def add_audit(self, audit: AuditRecord) -> None:
        with self._transaction("audit entry") as db:
            self._audit(db, audit)

    def audit_rows(self, limit: int) -> list[AuditRow]:
        rows = self._read("the audit log", lambda db: db.execute(
            "SELECT id, at, actor, action, detail FROM audit_log ORDER BY id DESC LIMIT ?",
            (limit,)).fetchall())
        return [AuditRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]
