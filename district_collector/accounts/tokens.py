"""Secrets handed to a client (API tokens, session ids, CSRF tokens) and their digests.

A secret is 32 random bytes, URL-safe base64 (43 characters). The store keeps only its
SHA-256 (hex): a copy of the database does not let anyone log in. Durations for token
expiry read as ``90d``, ``12h``, ``30m`` or ``never``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from district_collector.accounts.model import AccountError

SECRET_BYTES = 32
_DURATION = re.compile(r"^([1-9][0-9]{0,5})([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def new_secret() -> str:
    """A fresh secret: 32 random bytes, URL-safe base64 without padding."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which the store keeps ``secret``."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (a CSRF token against the session's)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def parse_expiry(text: str) -> timedelta | None:
    """``90d``/``12h``/``30m`` as a timedelta, ``never`` as None; AccountError otherwise."""
    text = text.strip().lower()
    if text == "never":
        return None
    match = _DURATION.match(text)
    if match is None:
        raise AccountError(f"--expires {text!r}: expected a number of days, hours or minutes "
                           "(90d, 12h, 30m) or never")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
