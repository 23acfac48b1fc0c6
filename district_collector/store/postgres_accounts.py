"""The accounts tables on the PostgreSQL store: a mixin of
:class:`~district_collector.store.postgres.PostgresStore` (contracts in
:mod:`district_collector.store.base_accounts`; the schema is the ``accounts`` part of
:mod:`district_collector.store.migrations`, created by ``radio-district db migrate``).

The same tables, columns and text times as the SQLite mixin
(:mod:`district_collector.store.sqlite_accounts`). Each write is one ``self._tx()``
transaction (committed when the block ends, rolled back and translated to StoreError on any
failure); reads use ``self._read()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import psycopg

from district_collector.store.base_accounts import (
    AccountsStore,
    AuditRecord,
    AuditRow,
    SessionRow,
    TokenRow,
    UserRow,
)
from district_collector.store.sqlite_accounts import utc_text

_USER_COLUMNS = "name, role, commune, password_hash, disabled, created_at, last_login_at"
_TOKEN_COLUMNS = "token_sha256, user_name, created_at, expires_at"
_SESSION_COLUMNS = "session_sha256, user_name, csrf, created_at, expires_at"


def _user(r: Any) -> UserRow:
    return UserRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6])


class PostgresAccountsMixin(AccountsStore):
    """:class:`AccountsStore` over the store's ``_tx()`` and ``_read()`` connections."""

    def _tx(self, doing: str = "write failed") -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError  # given by the store class

    def _read(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError  # given by the store class

    def _rows(self, sql: str, params: Any) -> Iterator[Any]:
        with self._read() as conn:
            yield from conn.execute(sql, params).fetchall()

    @staticmethod
    def _audit(conn: psycopg.Connection[Any], audit: AuditRecord) -> None:
        conn.execute("INSERT INTO audit_log(at, actor, action, detail) VALUES (%s, %s, %s, %s)",
                     (utc_text(audit.at), audit.actor, audit.action, audit.detail_json))

    # --- users --------------------------------------------------------------------------

    def add_user(self, row: UserRow, audit: AuditRecord) -> bool:
        with self._tx("user not stored") as conn:
            cur = conn.execute(
                f"INSERT INTO users({_USER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (name) DO NOTHING",
                (row.name, row.role, row.commune, row.password_hash, int(row.disabled),
                 row.created_at, row.last_login_at))
            if cur.rowcount != 1:
                return False
            self._audit(conn, audit)
        return True

    def user_row(self, name: str) -> UserRow | None:
        rows = list(self._rows(f"SELECT {_USER_COLUMNS} FROM users WHERE name = %s", (name,)))
        return _user(rows[0]) if rows else None

    def user_rows(self) -> list[UserRow]:
        return [_user(r) for r in self._rows(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name", ())]

    def set_user_password_hash(self, name: str, password_hash: str,
                               audit: AuditRecord | None) -> bool:
        with self._tx("password not stored") as conn:
            if conn.execute("UPDATE users SET password_hash = %s WHERE name = %s",
                            (password_hash, name)).rowcount != 1:
                return False
            if audit is not None:
                conn.execute("DELETE FROM sessions WHERE user_name = %s", (name,))
                self._audit(conn, audit)
        return True

    def set_user_disabled(self, name: str, disabled: bool, audit: AuditRecord) -> bool:
        with self._tx("user state not stored") as conn:
            if conn.execute("UPDATE users SET disabled = %s WHERE name = %s",
                            (int(disabled), name)).rowcount != 1:
                return False
            if disabled:
                conn.execute("DELETE FROM sessions WHERE user_name = %s", (name,))
                conn.execute("DELETE FROM api_tokens WHERE user_name = %s", (name,))
            self._audit(conn, audit)
        return True

    def login_succeeded(self, name: str, at: datetime) -> None:
        with self._tx("login not stored") as conn:
            conn.execute("UPDATE users SET last_login_at = %s WHERE name = %s", (utc_text(at), name))
            conn.execute("DELETE FROM login_failures WHERE scope = 'user' AND subject = %s", (name,))

    # --- failed logins ------------------------------------------------------------------

    def add_login_failure(self, keys: list[tuple[str, str]], at: datetime,
                          forget_before: datetime) -> None:
        with self._tx("failed login not stored") as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO login_failures(scope, subject, at) VALUES (%s, %s, %s)",
                            [(scope, subject, utc_text(at)) for scope, subject in keys])
            cur.execute("DELETE FROM login_failures WHERE at < %s", (utc_text(forget_before),))

    def login_failure_times(self, scope: str, subject: str, since: datetime) -> list[str]:
        return [r[0] for r in self._rows(
            "SELECT at FROM login_failures WHERE scope = %s AND subject = %s AND at >= %s ORDER BY at",
            (scope, subject, utc_text(since)))]

    # --- API tokens ---------------------------------------------------------------------

    def add_token(self, row: TokenRow, audit: AuditRecord) -> None:
        with self._tx("token not stored") as conn:
            conn.execute(f"INSERT INTO api_tokens({_TOKEN_COLUMNS}) VALUES (%s, %s, %s, %s)",
                         (row.token_sha256, row.user, row.created_at, row.expires_at))
            self._audit(conn, audit)

    def token_row(self, token_sha256: str) -> TokenRow | None:
        rows = list(self._rows(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_sha256 = %s",
                               (token_sha256,)))
        return TokenRow(*rows[0]) if rows else None

    def user_tokens(self, name: str) -> list[TokenRow]:
        return [TokenRow(*r) for r in self._rows(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE user_name = %s ORDER BY created_at", (name,))]

    # --- sessions -----------------------------------------------------------------------

    def add_session(self, row: SessionRow, expired_before: datetime) -> None:
        with self._tx("session not stored") as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at < %s", (utc_text(expired_before),))
            conn.execute(f"INSERT INTO sessions({_SESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
                         (row.session_sha256, row.user, row.csrf, row.created_at, row.expires_at))

    def session_row(self, session_sha256: str) -> SessionRow | None:
        rows = list(self._rows(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_sha256 = %s",
                               (session_sha256,)))
        return SessionRow(*rows[0]) if rows else None

    def delete_session(self, session_sha256: str) -> None:
        with self._tx("session end not stored") as conn:
            conn.execute("DELETE FROM sessions WHERE session_sha256 = %s", (session_sha256,))

    # --- audit log ----------------------------------------------------------------------

    def add_audit(self, audit: AuditRecord) -> None:
        with self._tx("audit entry not stored") as conn:
            self._audit(conn, audit)

    def audit_rows(self, limit: int) -> list[AuditRow]:
        return [AuditRow(int(r[0]), r[1], r[2], r[3], r[4]) for r in self._rows(
            "SELECT id, at, actor, action, detail FROM audit_log ORDER BY id DESC LIMIT %s", (limit,))]
