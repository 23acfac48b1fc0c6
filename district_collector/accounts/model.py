"""Users, sessions and audit entries as the console and the commands see them, and the
accounts' errors.

Roles: ``admin`` manages users (and reads and publishes like ``district``); ``district``
reads every commune and publishes; ``commune`` reads only its own commune (``commune``, a
commune code of the registry). A user's rights follow from its role alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from radio_protocol.errors import CommuneRadioError

Role = Literal["admin", "district", "commune"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class User:
    """A console user. ``commune``: the commune code of a ``commune`` user, else None."""

    name: str
    role: Role
    commune: str | None
    disabled: bool

    @property
    def can_manage_users(self) -> bool:
        """Only admins add, disable and reset users and issue tokens in the console."""
        return self.role == "admin"

    @property
    def can_publish(self) -> bool:
        """Admins and district users upload and publish catalogues."""
        return self.role in ("admin", "district")


@dataclass(frozen=True)
class UserInfo:
    """A user with its bookkeeping, for listings (times: RFC 3339 text, None: never)."""

    user: User
    created_at: str
    last_login_at: str | None


@dataclass(frozen=True)
class Session:
    """A login session. ``id``: the secret the cookie carries (the store keeps only its
    SHA-256); ``csrf``: the token every state-changing form of this session must carry."""

    id: str = field(repr=False)
    csrf: str = field(repr=False)
    user: User
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One audit log entry: when (RFC 3339 text), who (``cli:alice``, ``web:bob``), what
    (``user.add``, ``schedule.publish``...) and its details."""

    id: int
    at: str
    actor: str
    action: str
    detail: dict[str, object]


class AccountError(CommuneRadioError):
    """An accounts request cannot be done (unknown user, duplicate name, bad role or
    commune, password too short...); the message says what, and nothing was changed."""


class LoginRefused(AccountError):
    """A login failed. The message is the same whatever was wrong (unknown name, wrong
    password, disabled user), so it tells an attacker nothing; ``retry_after_s`` is set
    (seconds) when the login was refused because of too many failed attempts."""

    def __init__(self, message: str = "login refused: wrong name or password",
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
