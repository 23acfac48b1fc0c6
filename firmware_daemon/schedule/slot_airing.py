"""One scheduled airing as the slot runner sees it: what it asks of the Airer, and the
airing in progress (its slot, stop event and worker thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from firmware_daemon.schedule.restart import EvidenceRecorder
from radio_protocol.messages.event import Segment
from radio_protocol.schedule.expand import Slot

__all__ = ["Airing", "SlotAirer"]


class SlotAirer(EvidenceRecorder, Protocol):
    """What the runner needs of :class:`firmware_daemon.airing.airer.Airer`: air a segment
    now (returning the committed event payload), and record misses and failures."""

    def air(self, segment: Segment, media_path: Path | str, *, slot_at: datetime | None = None,
            schedule_version: int | None = None, priority: str | None = None,
            stop: threading.Event | None = None,
            stop_reason: str | Callable[[], str] = "shutdown") -> dict[str, Any]: ...


@dataclass
class Airing:
    """An airing in progress: its slot, schedule version, stop event and worker thread.

    ``stop_reason`` is why ``stop`` was (or will be) set, decided by whoever sets it:
    ``preempted`` by the runner for an emergency, else ``shutdown``; the Airer reads it
    when it sees the stop. Read-only outside the runner (see
    :attr:`~firmware_daemon.schedule.runner.SlotRunner.current_airing`).
    """

    slot: Slot
    version: int
    stop: threading.Event
    thread: threading.Thread
    error: BaseException | None = None
    stop_reason: str = "shutdown"

    def stop_now(self, reason: str) -> None:
        """Stop the airing for ``reason`` (the first reason given stands)."""
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()
