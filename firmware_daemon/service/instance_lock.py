"""One station process per data_dir: ``run`` and ``play`` hold ``data_dir/station.lock``.

Two ``run`` (or a ``run`` and a ``play``) on the same data_dir would share the MQTT client
id (knocking each other off the broker) and both air the slots. The lock is an exclusive,
non-blocking ``fcntl.flock`` on the lock file, which holds the owner's pid for the message.
The kernel releases it when the process dies, however it dies (SIGKILL included), so a
stale file never blocks a restart. Read-only commands (``events``, ``schedule``, ``check``)
and ``amp-off`` (systemd runs it after the service stops; it must never wait) do not take it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from radio_protocol.errors import CommuneRadioError

LOCK_FILE_NAME = "station.lock"


class InstanceLocked(CommuneRadioError):
    """Another radio-station process holds the data_dir's lock."""


def _holder_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "?"
    return text if text.isdigit() else "?"


def acquire(data_dir: Path) -> int:
    """Take the lock (creating data_dir 0700 if absent); returns the fd to keep open.

    Raises :class:`InstanceLocked` naming the holder's pid when another process has it.
    """
    path = data_dir / LOCK_FILE_NAME
    writable = True
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except PermissionError:
            # left by another user (e.g. a 'sudo radio-station play'): flock needs no write
            # access, only the pid note is skipped
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            writable = False
    except OSError as exc:
        raise InstanceLocked(f"cannot open the lock file {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder_pid(fd)
        os.close(fd)
        raise InstanceLocked(
            f"another radio-station is running with this data_dir (pid {pid}): stop it first "
            f"(systemctl stop radio-station)") from None
    except OSError as exc:
        os.close(fd)
        raise InstanceLocked(f"cannot lock {path}: {exc.strerror or exc}") from exc
    if writable:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def release(fd: int) -> None:
    """Drop the lock (closing the fd releases it; the file stays, harmless)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def instance_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data_dir's single-instance lock inside the block."""
    fd = acquire(data_dir)
    try:
        yield
    finally:
        release(fd)
