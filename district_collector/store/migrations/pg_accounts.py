"""The ``accounts`` part's PostgreSQL schema (the same tables and columns as the SQLite
store's :data:`~district_collector.store.sqlite_accounts.ACCOUNTS_SCHEMA`, so ``db copy``
moves them by column name).

- 1: ``users``, ``api_tokens``, ``sessions``, ``login_failures``, ``audit_log``.
"""

from __future__ import annotations

from district_collector.store.migrations.step import Step

T = 'TEXT COLLATE "C"'

V1 = f"""
CREATE TABLE users (
    name {T} PRIMARY KEY, role {T} NOT NULL CHECK (role IN ('admin', 'district', 'commune')),
    commune {T}, password_hash {T} NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
    created_at {T} NOT NULL, last_login_at {T}
);
CREATE TABLE api_tokens (
    token_sha256 {T} PRIMARY KEY, user_name {T} NOT NULL, created_at {T} NOT NULL, expires_at {T}
);
CREATE INDEX api_tokens_user ON api_tokens(user_name);
CREATE TABLE sessions (
    session_sha256 {T} PRIMARY KEY, user_name {T} NOT NULL, csrf {T} NOT NULL,
    created_at {T} NOT NULL, expires_at {T} NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_name);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE login_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, scope {T} NOT NULL, subject {T} NOT NULL,
    at {T} NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(scope, subject, at);
CREATE INDEX login_failures_at ON login_failures(at);
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at {T} NOT NULL, actor {T} NOT NULL,
    action {T} NOT NULL, detail {T} NOT NULL
)
"""

STEPS = [
    Step("accounts", 1, "users, api_tokens, sessions, login_failures, audit_log", V1),
]
