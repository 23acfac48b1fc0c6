"""Password hashing with argon2id (argon2-cffi's :class:`~argon2.PasswordHasher`).

Hashes are PHC strings (``$argon2id$v=19$m=65536,t=3,p=4$salt$hash``) holding their own
parameters, so :func:`needs_rehash` tells when a stored hash was made with other
parameters than :data:`HASHER`'s (the login then stores a new hash of the same password).
A password is never logged, stored or put in an exception message here.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults: RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
HASHER = PasswordHasher()

# A hash of a password nobody has, verified when the user is unknown so that a login for
# an unknown name takes as long as one with a wrong password.
_DUMMY_HASH = HASHER.hash("unknown user: no password matches this")

MIN_LENGTH = 10
MAX_LENGTH = 1024


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be set (too short, too long, blank), or None."""
    if not password.strip():
        return "the password is empty"
    if len(password) < MIN_LENGTH:
        return f"the password is too short ({len(password)} characters; at least {MIN_LENGTH})"
    if len(password) > MAX_LENGTH:
        return f"the password is too long (more than {MAX_LENGTH} characters)"
    return None


def hash_password(password: str) -> str:
    """The argon2id PHC string of ``password`` (a fresh random salt each call)."""
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False (never an exception) for a
    mismatch or a stored value that is not an argon2 hash."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_unknown(password: str) -> None:
    """Spend the time of one verification (for an unknown user name)."""
    verify_password(_DUMMY_HASH, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than :data:`HASHER`'s."""
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
