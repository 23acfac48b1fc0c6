"""How the PostgreSQL store connects: URL checks, redaction, the pool, error mapping.

``database: postgresql://USER@HOST[:PORT]/DB`` in district.yaml. The password is never in
the URL (refused: config files are often readable): libpq reads ``~/.pgpass`` (or the file
named by ``PGPASSFILE``), or the config's ``database_password_file`` holds it. Every
message naming the database goes through :func:`redact` (no password, whatever the URL).
"""

from __future__ import annotations

from pathlib import Path

from district_collector.store.base import RecordRefused, StoreError
from district_collector.store.db_url import redact

POOL_MAX = 4  # connections per store: the collector's writer, readers, a migration



def read_password(path: Path | None) -> str | None:
    """The password in ``path`` (first line, stripped), None without a file. StoreError
    when it cannot be read or is readable by others."""
    if path is None:
        return None
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise StoreError(f"{path}: the database password file must not be readable by others "
                             f"(chmod 600 {path})")
        return path.read_text(encoding="utf-8").splitlines()[0].strip() if path.stat().st_size else ""
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the database password file: {exc.strerror}") from exc


def translate(exc: BaseException, where: str, doing: str) -> BaseException:
    """The store's error for an exception of a write: RecordRefused when a value of the
    batch is at fault (out of range, NUL in text, a constraint), StoreError when the
    database is; other exceptions unchanged."""
    import psycopg

    if isinstance(exc, (OverflowError, ValueError, TypeError, psycopg.DataError, psycopg.IntegrityError,
                        psycopg.DataError)):
        return RecordRefused(f"{where}: {doing}, a record is out of range: {type(exc).__name__}: "
                             f"{redact(str(exc))}")
    if isinstance(exc, psycopg.Error):
        return StoreError(f"{where}: {doing}: {redact(str(exc)).strip()}")
    return exc
