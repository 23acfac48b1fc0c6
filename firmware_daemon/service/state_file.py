"""The running service's state file: what ``radio-station status`` reads.

The daemon (:mod:`firmware_daemon.service.state_report`) writes ``data_dir/``
:data:`STATE_FILE_NAME`, a JSON object, atomically and durably (temp file + fsync + rename +
fsync of the directory, :func:`radio_protocol.durable.atomic_write`) with mode 0640, on
every change of the link's state and at least every ``interval_s`` seconds. Its members
(format :data:`FORMAT`; times RFC 3339):

- ``format``, ``station``, ``district``, ``written_at`` (real wall time of the write),
  ``interval_s`` (the longest gap between writes while the daemon runs);
- ``daemon``: ``pid``, ``started_at``, ``stopped_at`` (set by the last write of a clean
  stop, else null), ``simulated`` (``run --simulate``: the other times are simulated);
- ``link``: null without an ``mqtt`` section, else ``state`` (connecting / connected /
  down / stopped), ``since``, ``broker`` (host:port), ``tls``, ``failures`` (since the last
  connect), ``failures_total``, ``connected_at``, ``last_error`` (``kind``, ``detail``,
  ``at``) or null;
- ``outbox``: ``pending``, ``last_seq``;
- ``schedule``: ``version`` (in force; null: none), ``valid_from``, ``valid_until``,
  ``in_force_since``, ``received_version`` (the newest one received), ``error``;
- ``next_slot``: ``at``, ``segment``, ``title``, ``priority``, or null;
- ``media_missing`` (segment ids), ``clock_synced``, ``amp_on``, ``storage_error``;
- ``last_airing``: ``seq``, ``outcome``, ``reason``, ``started_at``, ``slot``,
  ``segment``, ``title``, ``program``, or null.

Readers (:func:`read_state_file`, :func:`liveness`) never lock anything the daemon uses
and never talk to the broker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from radio_protocol.durable import atomic_write
from radio_protocol.errors import CommuneRadioError
from radio_protocol.timefmt import parse_rfc3339

__all__ = ["FORMAT", "STALE_AFTER_INTERVALS", "STATE_EVERY_S", "STATE_FILE_MODE", "STATE_FILE_NAME",
           "Liveness", "StateFile", "StateFileError", "liveness", "read_state_file", "state_file_path",
           "write_state_file"]

STATE_FILE_NAME = "station-status.json"
STATE_FILE_MODE = 0o640
FORMAT = 1
STATE_EVERY_S = 10.0
"""The daemon rewrites the file at least this often (seconds)."""
STALE_AFTER_INTERVALS = 3
"""A file older than this many intervals is stale: the daemon is hung or gone."""


class StateFileError(CommuneRadioError):
    """The state file exists but cannot be read or is not a state file of this format."""


def state_file_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE_NAME


def write_state_file(path: Path, state: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``state`` as JSON, atomically and durably, mode 0640."""
    data = json.dumps(state, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    atomic_write(path, data, mode=STATE_FILE_MODE)


@dataclass(frozen=True)
class StateFile:
    """A state file as read: ``data`` is the whole JSON object, the rest its key facts."""

    path: Path
    data: dict[str, Any]
    pid: int
    written_at: datetime
    interval_s: float
    stopped_at: datetime | None

    @property
    def link_state(self) -> str | None:
        """The link's state, None when the station has no MQTT link configured."""
        link = self.data.get("link")
        return str(link.get("state")) if isinstance(link, dict) else None


def read_state_file(path: Path) -> StateFile | None:
    """The state file at ``path``; None when there is none. Raises StateFileError naming the
    file when it cannot be read or is not a state file (format :data:`FORMAT`)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read the state file: {exc.strerror or exc} "
                             "(run as root or as the service's user)") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a state file of format {FORMAT}")
        daemon = data["daemon"]
        stopped = daemon.get("stopped_at")
        return StateFile(
            path=path, data=data, pid=int(daemon["pid"]),
            written_at=parse_rfc3339(str(data["written_at"])),
            interval_s=float(data["interval_s"]),
            stopped_at=parse_rfc3339(str(stopped)) if stopped else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateFileError(f"{path}: not a readable state file ({exc}); the service rewrites it "
                             f"within {STATE_EVERY_S:.0f} s while it runs") from exc


Liveness = Literal["running", "stopped", "gone", "stale"]


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (another user's process counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def liveness(state: StateFile, now_at: datetime) -> Liveness:
    """``stopped`` (a clean stop wrote its last state), ``gone`` (its pid is not alive),
    ``stale`` (not rewritten for :data:`STALE_AFTER_INTERVALS` intervals: hung, or killed
    and its pid reused) or ``running``. ``now_at`` is real wall time."""
    if state.stopped_at is not None:
        return "stopped"
    if not pid_alive(state.pid):
        return "gone"
    age_s = (now_at - state.written_at).total_seconds()
    if age_s > STALE_AFTER_INTERVALS * state.interval_s:
        return "stale"
    return "running"
