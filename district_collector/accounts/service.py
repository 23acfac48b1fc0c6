"""The accounts service: what the ``radio-district user`` commands and the web console call.

Every function takes the store (opened with
:func:`~district_collector.store.opening.open_store`) and works on its accounts tables.
Changes made on someone's behalf take an ``actor`` (``cli:alice``, ``web:bob``) and are
written to the audit log in the same transaction. Functions that need the time take
``now`` (an aware datetime); where the contract has no ``now`` it is a keyword that
defaults to the system clock.

Errors: :class:`~district_collector.accounts.model.AccountError` with a message for the
user, nothing changed; :class:`~district_collector.accounts.model.LoginRefused` for a
failed login (the same message whatever was wrong). Passwords, tokens and session ids are
never logged or stored in clear.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from district_collector.accounts import passwords, throttle
from district_collector.accounts.model import (
    ROLES,
    AccountError,
    AuditEntry,
    LoginRefused,
    Role,
    Session,
    User,
    UserInfo,
)
from district_collector.accounts.tokens import digest, new_secret, same_secret
from district_collector.store.base_accounts import (
    AccountsStore,
    AuditRecord,
    SessionRow,
    TokenRow,
    UserRow,
)
from district_collector.store.sqlite_accounts import utc_text
from radio_protocol.clock import SystemClock
from radio_protocol.timefmt import parse_rfc3339

if TYPE_CHECKING:
    from district_collector.config import DistrictConfig

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SESSION_TTL = timedelta(hours=12)


def _now(now: datetime | None) -> datetime:
    return SystemClock().now() if now is None else now


def _user(row: UserRow) -> User:
    return User(row.name, cast(Role, row.role), row.commune, row.disabled)


def _audit(actor: str, action: str, detail: Mapping[str, object], now: datetime) -> AuditRecord:
    return AuditRecord(now, actor, action, json.dumps(dict(detail), ensure_ascii=False,
                                                      sort_keys=True, default=str))


def _existing(store: AccountsStore, name: str) -> UserRow:
    row = store.user_row(name)
    if row is None:
        raise AccountError(f"no user called {name!r} (radio-district user list shows them)")
    return row


def _check_password(password: str) -> None:
    problem = passwords.password_problem(password)
    if problem is not None:
        raise AccountError(problem)


def known_communes(config: DistrictConfig) -> list[str]:
    """The commune codes of the configured registry, sorted."""
    return sorted({station.commune_code for station in config.stations})


def check_new_user(config: DistrictConfig, name: str, role: str, commune: str | None) -> None:
    """AccountError naming what is wrong with a new user's name, role or commune."""
    if not NAME_RE.match(name):
        raise AccountError(f"user name {name!r}: use 1 to 64 lowercase letters, digits, '.', '_' "
                           "or '-', starting with a letter or digit")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if role == "commune":
        codes = known_communes(config)
        if not commune:
            raise AccountError("a commune user needs --commune CODE (the registry's communes: "
                               f"{', '.join(codes) or 'none'})")
        if commune not in codes:
            raise AccountError(f"commune {commune!r} is not in the registry of {config.source} "
                               f"(its communes: {', '.join(codes) or 'none'})")
    elif commune:
        raise AccountError(f"role {role} sees every commune: --commune is only for role commune")


# --- users ------------------------------------------------------------------------------


def create_user(store: AccountsStore, config: DistrictConfig, name: str, role: str,
                commune: str | None, password: str, actor: str, *,
                now: datetime | None = None) -> User:
    """Add a user with an argon2 hash of ``password`` (at least
    :data:`~district_collector.accounts.passwords.MIN_LENGTH` characters). AccountError for
    a bad name, role, commune or password, or a name already taken."""
    check_new_user(config, name, role, commune)
    _check_password(password)
    at = _now(now)
    row = UserRow(name, role, commune if role == "commune" else None,
                  passwords.hash_password(password), False, utc_text(at), None)
    detail = {"name": name, "role": role, "commune": row.commune}
    if not store.add_user(row, _audit(actor, "user.add", detail, at)):
        raise AccountError(f"a user called {name!r} already exists")
    log.info("user added name=%s role=%s actor=%s", name, role, actor)
    return _user(row)


def list_users(store: AccountsStore) -> list[User]:
    """Every user (disabled ones too), by name."""
    return [_user(row) for row in store.user_rows()]


def user_details(store: AccountsStore) -> list[UserInfo]:
    """Every user with its creation and last login times, by name (never its hash)."""
    return [UserInfo(_user(row), row.created_at, row.last_login_at) for row in store.user_rows()]


def set_disabled(store: AccountsStore, name: str, disabled: bool, actor: str, *,
                 now: datetime | None = None) -> None:
    """Disable (ending every session and API token of the user) or enable a user.
    AccountError for an unknown user."""
    _existing(store, name)
    action = "user.disable" if disabled else "user.enable"
    if not store.set_user_disabled(name, disabled, _audit(actor, action, {"name": name}, _now(now))):
        raise AccountError(f"no user called {name!r}")
    log.info("%s name=%s actor=%s", action, name, actor)


def set_password(store: AccountsStore, name: str, password: str, actor: str, *,
                 now: datetime | None = None) -> None:
    """Give the user a new password (its login sessions end; its API tokens stay).
    AccountError for an unknown user or an unacceptable password."""
    _existing(store, name)
    _check_password(password)
    audit = _audit(actor, "user.passwd", {"name": name}, _now(now))
    if not store.set_user_password_hash(name, passwords.hash_password(password), audit):
        raise AccountError(f"no user called {name!r}")
    log.info("user.passwd name=%s actor=%s", name, actor)


def visible_communes(user: User) -> frozenset[str] | None:
    """The commune codes the user may see; None for every commune (admin, district)."""
    if user.role == "commune":
        return frozenset({user.commune}) if user.commune else frozenset()
    return None


# --- login ------------------------------------------------------------------------------


def authenticate(store: AccountsStore, name: str, password: str, address: str | None,
                 now: datetime) -> User:
    """The user, when ``password`` is its password and it is enabled; else LoginRefused.

    Throttled per user name and per ``address`` (see
    :mod:`~district_collector.accounts.throttle`): a locked key is refused at once, with
    ``retry_after_s``. A wrong password or unknown name counts a failure (an unknown name
    takes as long as a known one); a disabled user is refused without counting. A success
    clears the name's failures, sets its last login, and re-hashes the password when the
    stored hash was made with other argon2 parameters.
    """
    wait = throttle.retry_after(store, name, address, now)
    if wait is not None:
        log.warning("login throttled address=%s retry_after_s=%.0f", address, wait)
        raise LoginRefused(f"too many failed logins: try again in {int(wait) + 1} s", wait)
    row = store.user_row(name)
    if row is None:
        passwords.verify_unknown(password)
    if row is None or not passwords.verify_password(row.password_hash, password):
        throttle.record_failure(store, name, address, now)
        # An unknown name may be a password typed in the wrong field: not logged.
        log.warning("login refused address=%s user=%s", address,
                    row.name if row is not None else "(unknown)")
        raise LoginRefused()
    if row.disabled:
        log.warning("login refused address=%s user=%s reason=disabled", address, row.name)
        raise LoginRefused()
    if passwords.needs_rehash(row.password_hash):
        store.set_user_password_hash(row.name, passwords.hash_password(password), None)
        log.info("password rehashed user=%s", row.name)
    store.login_succeeded(row.name, now)
    log.info("login ok user=%s address=%s", row.name, address)
    return _user(row)


def start_session(store: AccountsStore, user: User, now: datetime,
                  ttl: timedelta = SESSION_TTL) -> Session:
    """A new session of ``user`` expiring at ``now + ttl``, with a fresh CSRF token (the
    store keeps the SHA-256 of its id; expired sessions are deleted on the way)."""
    session_id, csrf = new_secret(), new_secret()
    expires_at = now + ttl
    store.add_session(SessionRow(digest(session_id), user.name, csrf, utc_text(now),
                                 utc_text(expires_at)), expired_before=now)
    return Session(session_id, csrf, user, expires_at)


def session_for(store: AccountsStore, session_id: str, now: datetime) -> Session | None:
    """The session with id ``session_id``; None when it is unknown, expired, or its user
    is unknown or disabled."""
    if not session_id:
        return None
    row = store.session_row(digest(session_id))
    if row is None:
        return None
    expires_at = parse_rfc3339(row.expires_at)
    if now >= expires_at:
        return None
    user = store.user_row(row.user)
    if user is None or user.disabled:
        return None
    return Session(session_id, row.csrf, _user(user), expires_at)


def end_session(store: AccountsStore, session_id: str) -> None:
    """Log out: forget the session (nothing happens for an unknown id)."""
    if session_id:
        store.delete_session(digest(session_id))


def csrf_ok(session: Session, token: str | None) -> bool:
    """Whether a form's CSRF ``token`` is the session's (constant-time)."""
    return bool(token) and same_secret(str(token), session.csrf)


# --- API tokens -------------------------------------------------------------------------


def issue_token(store: AccountsStore, name: str, expires_in: timedelta | None, actor: str, *,
                now: datetime | None = None) -> str:
    """A new API token of an enabled user, returned once (the store keeps its SHA-256);
    ``expires_in`` None: it never expires. AccountError for an unknown or disabled user."""
    row = _existing(store, name)
    if row.disabled:
        raise AccountError(f"user {name!r} is disabled: enable it first (radio-district user enable)")
    at = _now(now)
    token = new_secret()
    sha = digest(token)
    expires_at = None if expires_in is None else utc_text(at + expires_in)
    detail = {"name": name, "token": sha[:12], "expires_at": expires_at}
    store.add_token(TokenRow(sha, name, utc_text(at), expires_at),
                    _audit(actor, "token.issue", detail, at))
    log.info("token issued name=%s token=%s actor=%s", name, sha[:12], actor)
    return token


def token_user(store: AccountsStore, token: str, now: datetime) -> User | None:
    """The user an API token belongs to; None when the token is unknown or expired or its
    user disabled."""
    if not token:
        return None
    row = store.token_row(digest(token))
    if row is None:
        return None
    if row.expires_at is not None and now >= parse_rfc3339(row.expires_at):
        return None
    user = store.user_row(row.user)
    if user is None or user.disabled:
        return None
    return _user(user)


# --- audit log --------------------------------------------------------------------------


def record_audit(store: AccountsStore, actor: str, action: str, detail: Mapping[str, object], *,
                 now: datetime | None = None) -> None:
    """Append an audit entry (publish, upload...: changes outside the accounts tables).
    ``detail`` must be JSON-ready (other values are written as their text)."""
    store.add_audit(_audit(actor, action, detail, _now(now)))


def audit_log(store: AccountsStore, limit: int = 200) -> list[AuditEntry]:
    """The latest ``limit`` audit entries, newest first."""
    return [AuditEntry(r.id, r.at, r.actor, r.action, json.loads(r.detail_json))
            for r in store.audit_rows(limit)]
