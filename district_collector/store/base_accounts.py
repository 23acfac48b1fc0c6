"""The accounts part of the store: users, API tokens, login sessions, failed logins, audit log.

:class:`AccountsStore` is one of :class:`~district_collector.store.base.Store`'s bases; a
backend implements it beside the evidence tables (the SQLite one in
:mod:`district_collector.store.sqlite_accounts`). The rules (password hashing, throttling,
who may do what) live in :mod:`district_collector.accounts`; the store only keeps rows.

Contracts every backend keeps:

- **Secrets.** The store never sees a password, an API token or a session id in clear:
  it keeps an argon2 hash (``password_hash``) and SHA-256 hex digests (``token_sha256``,
  ``session_sha256``). A session's CSRF token is kept as given (it is shown in pages).
- **Times** are aware datetimes in, RFC 3339 text (UTC, milliseconds) out, so text order
  is time order.
- **Atomic audit.** A write that changes a user, a token or a session on behalf of
  someone takes an :class:`AuditRecord` and stores it in the same transaction as the
  change: a change is audited, or did not happen. Each write commits before it returns;
  a :class:`~district_collector.store.base.StoreError` means nothing of the call is stored.
- **Users are never deleted** (the audit log names them); ``disable`` instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UserRow:
    """A stored user. ``created_at``/``last_login_at``: RFC 3339 text (None: never logged in)."""

    name: str
    role: str
    commune: str | None
    password_hash: str
    disabled: bool
    created_at: str
    last_login_at: str | None


@dataclass(frozen=True)
class TokenRow:
    """A stored API token: its owner and expiry (RFC 3339 text; None: never expires)."""

    token_sha256: str
    user: str
    created_at: str
    expires_at: str | None


@dataclass(frozen=True)
class SessionRow:
    """A stored login session (``session_sha256``: SHA-256 hex of the cookie's id)."""

    session_sha256: str
    user: str
    csrf: str
    created_at: str
    expires_at: str


@dataclass(frozen=True)
class AuditRecord:
    """An audit entry to write: when, who (``cli:alice``, ``web:bob``), what
    (``user.add``...), and its details as a JSON object's text."""

    at: datetime
    actor: str
    action: str
    detail_json: str


@dataclass(frozen=True)
class AuditRow:
    """A stored audit entry (``at``: RFC 3339 text)."""

    id: int
    at: str
    actor: str
    action: str
    detail_json: str


class AccountsStore(ABC):
    """Users, tokens, sessions, failed logins and the audit log. A backend overrides every
    abstract method; see the module docstring for the contracts they share."""

    # --- users --------------------------------------------------------------------------

    @abstractmethod
    def add_user(self, row: UserRow, audit: AuditRecord) -> bool:
        """Store a new user and its audit entry; False, and nothing written, when a user
        of that name exists (disabled ones included)."""

    @abstractmethod
    def user_row(self, name: str) -> UserRow | None:
        """The user called ``name`` (exact match), None when there is none."""

    @abstractmethod
    def user_rows(self) -> list[UserRow]:
        """Every user, by name."""

    @abstractmethod
    def set_user_password_hash(self, name: str, password_hash: str,
                               audit: AuditRecord | None) -> bool:
        """Replace the user's password hash. A change (``audit`` given) also deletes the
        user's sessions in the same transaction (its API tokens stay); ``audit`` None is a
        rehash of the same password at login, which changes nothing else. False, nothing
        written, for an unknown user."""

    @abstractmethod
    def set_user_disabled(self, name: str, disabled: bool, audit: AuditRecord) -> bool:
        """Disable or enable the user. Disabling also deletes every session and API token
        of the user in the same transaction (enabling brings none back). False, nothing
        written, for an unknown user."""

    @abstractmethod
    def login_succeeded(self, name: str, at: datetime) -> None:
        """Set the user's ``last_login_at`` and forget its failed logins (scope ``user``)."""

    # --- failed logins ------------------------------------------------------------------

    @abstractmethod
    def add_login_failure(self, keys: list[tuple[str, str]], at: datetime,
                          forget_before: datetime) -> None:
        """Record a failed login at ``at`` under each ``(scope, subject)`` key (e.g.
        ``("user", "lan")``, ``("address", "10.0.0.7")``), and delete every failure of any
        key older than ``forget_before``, in one transaction."""

    @abstractmethod
    def login_failure_times(self, scope: str, subject: str, since: datetime) -> list[str]:
        """The times (RFC 3339 text, ascending) of the key's failures at or after ``since``."""

    # --- API tokens ---------------------------------------------------------------------

    @abstractmethod
    def add_token(self, row: TokenRow, audit: AuditRecord) -> None:
        """Store an API token (by its digest) and its audit entry."""

    @abstractmethod
    def token_row(self, token_sha256: str) -> TokenRow | None:
        """The token with that digest, None when unknown (expired ones included: the caller
        checks ``expires_at``)."""

    @abstractmethod
    def user_tokens(self, name: str) -> list[TokenRow]:
        """The user's API tokens, oldest first."""

    # --- sessions -----------------------------------------------------------------------

    @abstractmethod
    def add_session(self, row: SessionRow, expired_before: datetime) -> None:
        """Store a session, and delete every session that expired before ``expired_before``
        (housekeeping), in one transaction."""

    @abstractmethod
    def session_row(self, session_sha256: str) -> SessionRow | None:
        """The session with that digest, None when unknown (the caller checks expiry)."""

    @abstractmethod
    def delete_session(self, session_sha256: str) -> None:
        """Forget the session (nothing happens for an unknown one)."""

    # --- audit log ----------------------------------------------------------------------

    @abstractmethod
    def add_audit(self, audit: AuditRecord) -> None:
        """Append an audit entry on its own (for changes outside the accounts tables:
        publish, upload...)."""

    @abstractmethod
    def audit_rows(self, limit: int) -> list[AuditRow]:
        """The latest ``limit`` audit entries, newest first."""
