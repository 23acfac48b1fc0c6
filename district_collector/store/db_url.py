"""``database:`` values that name a PostgreSQL store, and their redaction for messages.

No password belongs in the URL (refused by :func:`url_problem`), and every message that
names a database goes through :func:`redact`, whatever the URL holds.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(text: str) -> bool:
    return text.startswith(POSTGRES_SCHEMES)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot name the store (None when it can)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        return f"not a valid PostgreSQL URL: {exc}"
    if parts.password is not None:
        return ("holds a password: put it in ~/.pgpass (or PGPASSFILE) or in a file named by "
                "database_password_file, never in the config")
    if not parts.hostname and "host=" not in parts.query:
        return "names no host (postgresql://USER@HOST[:PORT]/DATABASE)"
    if not parts.path.strip("/"):
        return "names no database (postgresql://USER@HOST[:PORT]/DATABASE)"
    return None


def redact(text: str) -> str:
    """``text`` with any URL password and any ``password=...`` replaced by ``***``."""
    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        try:
            parts = urlsplit(url)
            if parts.password is None:
                return url
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            user = f"{parts.username}:***@" if parts.username else ":***@"
            return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
        except ValueError:
            return "postgresql://***"
    text = re.sub(r"postgres(?:ql)?://\S+", one, text)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)
