"""Worker groups: several ``radio-district run --worker-group NAME`` processes share the
stations' event stream through MQTT 5 shared subscriptions (docs/DEPLOY.md).

A worker subscribes to ``$share/NAME/<filter>`` for the event and status filters; the
broker hands each message to one worker of the group. Each worker has its own client id
``<mqtt.client_id>-<NAME>-<worker id>`` and persistent session, so a restarted worker
gets back what was in flight to it. The worker id is ``--worker-id`` when given (the
systemd template ``radio-district@ID`` passes its instance), else ``<host>-<n>`` with
``n`` the lowest slot free on this host: a lock file per slot in the temp directory, held
while the process lives, so the processes of one host get 1, 2, 3... and a worker
restarted after a crash takes its old slot back (and its session).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from radio_protocol.errors import CommuneRadioError

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_WORKER_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}\Z")  # dots: a host name (systemd's %H)
MAX_SLOTS = 1024


class WorkerGroupError(CommuneRadioError):
    """A worker group name or worker id cannot be used."""


def check_name(what: str, value: str) -> str:
    """A group name: 1..64 of A-Z a-z 0-9 _ - (it goes into a topic filter and a client
    id, where ``/ + #`` would change the meaning); a worker id (``what`` = "worker id")
    may also hold dots and be 100 long. WorkerGroupError otherwise."""
    worker = what == "worker id"
    if not (_WORKER_ID if worker else _NAME).match(value):
        allowed = "1 to 100 letters, digits, '.', '_' or '-'" if worker else "1 to 64 letters, digits, '_' or '-'"
        raise WorkerGroupError(f"{what} {value!r}: use {allowed} "
                               "(it becomes part of an MQTT topic filter and client id)")
    return value


@dataclass(frozen=True)
class WorkerGroup:
    """One worker's place in its group."""

    name: str
    worker_id: str

    def client_id(self, base: str) -> str:
        """This worker's MQTT client id (its own persistent session)."""
        return f"{base}-{self.name}-{self.worker_id}"

    def share(self, topic_filter: str) -> str:
        """``topic_filter`` as this group's shared subscription."""
        return f"$share/{self.name}/{topic_filter}"


class SlotLock:
    """The lock file of a default worker id, held until :meth:`release` or process exit."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle = handle

    def release(self) -> None:
        self._handle.close()


def _host() -> str:
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0]) or "host"
    return host[:40]


def default_worker_id(district: str, group: str, lock_dir: Path | None = None) -> tuple[str, SlotLock]:
    """``<host>-<n>`` for the lowest slot ``n`` no other process of this host holds, and
    the lock that keeps it ours. WorkerGroupError when every slot is taken."""
    directory = lock_dir or Path(tempfile.gettempdir())
    for n in range(1, MAX_SLOTS + 1):
        path = directory / f"radio-district-{district}-{group}-{n}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return f"{_host()}-{n}", SlotLock(path, handle)
    raise WorkerGroupError(f"no free worker slot for group {group!r} in {directory}: "
                           f"give --worker-id")


def join_group(district: str, group: str, worker_id: str | None,
               lock_dir: Path | None = None) -> tuple[WorkerGroup, SlotLock | None]:
    """The worker's :class:`WorkerGroup` (``worker_id`` checked, or the default taken)."""
    check_name("worker group", group)
    if worker_id is not None:
        return WorkerGroup(group, check_name("worker id", worker_id)), None
    wid, lock = default_worker_id(district, group, lock_dir)
    return WorkerGroup(group, wid), lock
