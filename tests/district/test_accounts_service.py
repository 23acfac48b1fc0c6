"""The accounts service on both real stores (SQLite, PostgreSQL): hashing, sessions, tokens,
disabling, audit."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from accounts_kit import NOW, PASSWORD, district_config
from argon2 import PasswordHasher
from store_backends import StoreBackend

from district_collector.accounts import service
from district_collector.accounts.model import AccountError, LoginRefused, User
from district_collector.accounts.tokens import digest
from district_collector.config import DistrictConfig
from district_collector.store.base import Store
from district_collector.store.opening import open_store

ACTOR = "cli:tester"


@pytest.fixture
def config(tmp_path: Path, store_backend: StoreBackend) -> DistrictConfig:
    return store_backend.configure(district_config(tmp_path))


@pytest.fixture
def store(config: DistrictConfig) -> Iterator[Store]:
    with open_store(config) as opened:
        yield opened


def _add(store: Store, config: DistrictConfig, name: str = "lan", role: str = "district",
         commune: str | None = None) -> User:
    return service.create_user(store, config, name, role, commune, PASSWORD, ACTOR, now=NOW)


def _db_bytes(config: DistrictConfig, backend: StoreBackend) -> bytes:
    """Every byte of the SQLite store's files (the database, its WAL and shared memory), or
    every accounts row of the PostgreSQL store as text."""
    if backend.name == "sqlite":
        return b"".join(p.read_bytes() for p in config.database.parent.glob(config.database.name + "*"))
    return repr([backend.rows(config.database, f"SELECT * FROM {table}") for table in
                 ("users", "api_tokens", "sessions", "login_failures", "audit_log")]).encode("utf-8")


def test_accounts_password_is_stored_only_as_argon2id_and_never_logged(
        store: Store, config: DistrictConfig, caplog: pytest.LogCaptureFixture,
        store_backend: StoreBackend) -> None:
    caplog.set_level(logging.DEBUG)
    _add(store, config)
    service.set_password(store, "lan", PASSWORD + "-2", ACTOR, now=NOW)
    with pytest.raises(LoginRefused):
        service.authenticate(store, "lan", PASSWORD, "10.0.0.7", NOW)
    service.authenticate(store, "lan", PASSWORD + "-2", "10.0.0.7", NOW)
    row = store.user_row("lan")
    assert row is not None
    assert row.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    raw = _db_bytes(config, store_backend)
    assert b"argon2id" in raw  # the hash is there, the password is not
    assert PASSWORD.encode("utf-8") not in raw and PASSWORD.encode("utf-16-le") not in raw
    assert PASSWORD not in caplog.text and "lan" in caplog.text
    assert all(PASSWORD not in str(r.args) for r in caplog.records)


def test_accounts_rehash_when_the_hash_parameters_change(store: Store, config: DistrictConfig) -> None:
    _add(store, config)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    store.set_user_password_hash("lan", weak, None)
    user = service.authenticate(store, "lan", PASSWORD, None, NOW)
    assert user.name == "lan"
    row = store.user_row("lan")
    assert row is not None and row.password_hash != weak
    assert row.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert service.authenticate(store, "lan", PASSWORD, None, NOW).name == "lan"
    assert row.last_login_at == "2026-12-03T08:00:00.000+00:00"


@pytest.mark.parametrize(("name", "role", "commune", "password", "message"), [
    ("lan", "boss", None, PASSWORD, "role 'boss': expected one of admin, district, commune"),
    ("lan", "commune", None, PASSWORD, "a commune user needs --commune CODE (the registry's communes: 23320, 23335)"),
    ("lan", "commune", "99999", PASSWORD, "commune '99999' is not in the registry of"),
    ("lan", "admin", "23335", PASSWORD, "--commune is only for role commune"),
    ("Lan Anh", "admin", None, PASSWORD, "user name 'Lan Anh': use 1 to 64 lowercase letters"),
    ("lan", "admin", None, "short-pw", "the password is too short (8 characters; at least 10)"),
    ("lan", "admin", None, "          ", "the password is empty"),
], ids=["role", "commune-missing", "commune-unknown", "commune-for-admin", "name", "short", "blank"])
def test_accounts_create_user_refuses_bad_input_and_stores_nothing(
        store: Store, config: DistrictConfig, name: str, role: str, commune: str | None,
        password: str, message: str) -> None:
    with pytest.raises(AccountError) as caught:
        service.create_user(store, config, name, role, commune, password, ACTOR, now=NOW)
    assert message in str(caught.value)
    assert store.user_rows() == [] and service.audit_log(store) == []


def test_accounts_duplicate_name_is_refused(store: Store, config: DistrictConfig) -> None:
    _add(store, config)
    with pytest.raises(AccountError, match="a user called 'lan' already exists"):
        _add(store, config, role="admin")
    assert [u.role for u in service.list_users(store)] == ["district"]


def test_accounts_login_refusals_look_alike(store: Store, config: DistrictConfig) -> None:
    _add(store, config)
    messages = []
    for name, password in (("lan", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(LoginRefused) as caught:
            service.authenticate(store, name, password, "10.0.0.7", NOW)
        messages.append((str(caught.value), caught.value.retry_after_s))
    service.set_disabled(store, "lan", True, ACTOR, now=NOW)
    with pytest.raises(LoginRefused) as caught:
        service.authenticate(store, "lan", PASSWORD, "10.0.0.7", NOW)
    messages.append((str(caught.value), caught.value.retry_after_s))
    assert set(messages) == {("login refused: wrong name or password", None)}


def test_accounts_session_lifecycle(store: Store, config: DistrictConfig) -> None:
    user = _add(store, config, "hoa", "commune", "23335")
    session = service.start_session(store, user, NOW, ttl=timedelta(hours=1))
    assert len(session.id) == 43 and session.id != session.csrf
    assert store.session_row(session.id) is None  # kept only under its digest
    found = service.session_for(store, session.id, NOW + timedelta(minutes=59))
    assert found is not None and found.user == user and found.csrf == session.csrf
    assert service.csrf_ok(found, session.csrf) and not service.csrf_ok(found, session.id)
    assert not service.csrf_ok(found, None)
    assert service.session_for(store, session.id, NOW + timedelta(hours=1)) is None
    assert service.session_for(store, "not-a-session", NOW) is None
    assert service.session_for(store, "", NOW) is None
    other = service.start_session(store, user, NOW)
    service.end_session(store, other.id)
    assert service.session_for(store, other.id, NOW) is None
    assert service.visible_communes(user) == frozenset({"23335"})


def test_accounts_expired_sessions_are_deleted_when_a_new_one_starts(store: Store, config: DistrictConfig) -> None:
    user = _add(store, config)
    old = service.start_session(store, user, NOW, ttl=timedelta(minutes=5))
    service.start_session(store, user, NOW + timedelta(minutes=10))
    assert store.session_row(digest(old.id)) is None


def test_accounts_token_is_stored_hashed_and_expires(store: Store, config: DistrictConfig,
                                                    store_backend: StoreBackend) -> None:
    user = _add(store, config)
    token = service.issue_token(store, "lan", timedelta(days=90), ACTOR, now=NOW)
    forever = service.issue_token(store, "lan", None, ACTOR, now=NOW)
    assert len(token) == 43 and token != forever
    raw = _db_bytes(config, store_backend)
    assert digest(token).encode() in raw and token.encode() not in raw
    assert service.token_user(store, token, NOW + timedelta(days=89)) == user
    assert service.token_user(store, token, NOW + timedelta(days=90)) is None
    assert service.token_user(store, forever, NOW + timedelta(days=3650)) == user
    assert service.token_user(store, token[:-1] + "x", NOW) is None
    assert service.token_user(store, digest(token), NOW) is None  # the digest is no token
    assert [t.token_sha256 for t in store.user_tokens("lan")] == [digest(token), digest(forever)]


def test_accounts_disabling_ends_sessions_and_tokens_for_good(store: Store, config: DistrictConfig) -> None:
    user = _add(store, config)
    session = service.start_session(store, user, NOW)
    token = service.issue_token(store, "lan", None, ACTOR, now=NOW)
    service.set_disabled(store, "lan", True, ACTOR, now=NOW)
    assert service.session_for(store, session.id, NOW) is None
    assert service.token_user(store, token, NOW) is None
    with pytest.raises(AccountError, match="user 'lan' is disabled"):
        service.issue_token(store, "lan", None, ACTOR, now=NOW)
    service.set_disabled(store, "lan", False, ACTOR, now=NOW)
    assert service.session_for(store, session.id, NOW) is None
    assert service.token_user(store, token, NOW) is None
    assert service.authenticate(store, "lan", PASSWORD, None, NOW).disabled is False


def test_accounts_password_change_ends_sessions_not_tokens(store: Store, config: DistrictConfig) -> None:
    user = _add(store, config)
    session = service.start_session(store, user, NOW)
    token = service.issue_token(store, "lan", None, ACTOR, now=NOW)
    service.set_password(store, "lan", "another long password", ACTOR, now=NOW)
    assert service.session_for(store, session.id, NOW) is None
    assert service.token_user(store, token, NOW) == user


def test_accounts_every_change_is_audited(store: Store, config: DistrictConfig) -> None:
    _add(store, config, "hoa", "commune", "23335")
    token = service.issue_token(store, "hoa", timedelta(hours=12), "web:admin", now=NOW)
    service.set_password(store, "hoa", "another long password", ACTOR, now=NOW)
    service.set_disabled(store, "hoa", True, ACTOR, now=NOW)
    service.set_disabled(store, "hoa", False, ACTOR, now=NOW)
    service.record_audit(store, "web:admin", "schedule.publish", {"month": "2026-12", "versions": 7},
                         now=NOW)
    entries = service.audit_log(store)
    assert [(e.actor, e.action) for e in entries] == [
        ("web:admin", "schedule.publish"), (ACTOR, "user.enable"), (ACTOR, "user.disable"),
        (ACTOR, "user.passwd"), ("web:admin", "token.issue"), (ACTOR, "user.add")]
    assert entries[-1].detail == {"name": "hoa", "role": "commune", "commune": "23335"}
    assert entries[-2].detail == {"name": "hoa", "token": digest(token)[:12],
                                  "expires_at": "2026-12-03T20:00:00.000+00:00"}
    assert entries[0].detail == {"month": "2026-12", "versions": 7}
    assert all(e.at == "2026-12-03T08:00:00.000+00:00" for e in entries)
    assert [e.id for e in service.audit_log(store, limit=2)] == [entries[0].id, entries[1].id]


def test_accounts_unknown_user_changes_are_refused(store: Store) -> None:
    for change in (lambda: service.set_disabled(store, "zed", True, ACTOR),
                   lambda: service.set_password(store, "zed", PASSWORD, ACTOR),
                   lambda: service.issue_token(store, "zed", None, ACTOR)):
        with pytest.raises(AccountError, match="no user called 'zed'"):
            change()
    assert service.audit_log(store) == []


def test_accounts_roles_and_visible_communes(store: Store, config: DistrictConfig) -> None:
    admin, district = _add(store, config, "an", "admin"), _add(store, config, "binh", "district")
    commune = _add(store, config, "hoa", "commune", "23320")
    assert service.visible_communes(admin) is None and service.visible_communes(district) is None
    assert service.visible_communes(commune) == frozenset({"23320"})
    assert (admin.can_manage_users, district.can_manage_users, commune.can_manage_users) == (True, False, False)
    assert (admin.can_publish, district.can_publish, commune.can_publish) == (True, True, False)
    assert [(u.user.name, u.created_at, u.last_login_at) for u in service.user_details(store)] == [
        ("an", "2026-12-03T08:00:00.000+00:00", None), ("binh", "2026-12-03T08:00:00.000+00:00", None),
        ("hoa", "2026-12-03T08:00:00.000+00:00", None)]


def test_accounts_tables_survive_reopening(config: DistrictConfig, store_backend: StoreBackend) -> None:
    with open_store(config) as store:
        _add(store, config)
        token = service.issue_token(store, "lan", None, ACTOR, now=NOW)
    with open_store(config) as store:
        assert service.token_user(store, token, NOW) is not None
        assert len(service.audit_log(store)) == 2
    for table in ("users", "api_tokens", "sessions", "login_failures", "audit_log"):
        assert store_backend.rows(config.database, f"SELECT COUNT(*) FROM {table}")


def test_accounts_store_files_are_made_private(tmp_path: Path) -> None:
    """The store holds password hashes: a SQLite store file others could read is made 0600
    (a SQLite-only test: PostgreSQL keeps its files itself)."""
    config = district_config(tmp_path)
    config.database.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(config.database).close()
    config.database.chmod(0o644)
    with open_store(config) as store:
        _add(store, config)
    files = list(config.database.parent.glob(config.database.name + "*"))
    assert config.database in files
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: "0o600" for f in files}
