"""The schedule in force at this station, and which of its slots are already settled.

A schedule (the flattened JWS bytes from the ``schedule`` topic) is accepted only if,
in this order: it is at most :data:`MAX_SCHEDULE_BYTES`; it verifies against a pinned
district key with ``typ`` ``cr-schedule+json``; it names this district and station; its
version is above the current one (the same version with the same bytes is a harmless
re-delivery: re-acked, nothing else); it parses completely
(:func:`~radio_protocol.schedule.parse.parse_schedule`). Otherwise the current schedule
stays in force and :attr:`ScheduleStore.error` says why (reported as ``schedule_error``).

An accepted schedule becomes :attr:`ScheduleStore.current` at once, and the one it replaced
is kept as :attr:`ScheduleStore.previous` (``previous.jws``) until the runner has the new
one's media complete and verified and calls :meth:`ScheduleStore.release_previous`: until
then the previous schedule's still-valid slots air and its media is not pruned, so a
well-signed schedule whose media cannot be fetched does not silence the station.

Durability: the accepted JWS is written with ``atomic_write`` (temp file, fsync, rename,
fsync of the directory) to ``data_dir/schedule/current.jws`` and re-verified at start,
so it survives a reboot with no network. Slot states live in
``data_dir/schedule/slots.sqlite3`` (WAL, ``synchronous=FULL``): a slot is marked
``started`` *before* its airing begins, so after a restart no slot airs twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from firmware_daemon.link.delivery import OversizedMessage
from radio_protocol.durable import atomic_write, ensure_private_dir
from radio_protocol.errors import JoseError, ScheduleError
from radio_protocol.jose import KeyRing, sha256_hex, verify
from radio_protocol.names import MAX_SCHEDULE_BYTES, SCHEDULE_TYP
from radio_protocol.schedule.model import Schedule
from radio_protocol.schedule.parse import parse_schedule
from radio_protocol.timefmt import format_rfc3339, parse_rfc3339

log = logging.getLogger(__name__)

MAX_ERROR_PROBLEMS = 5  # schedule_error names at most this many problems ...
MAX_ERROR_CHARS = 600  # ... in at most this many characters (the status must stay small)
SLOT_STATES = ("started", "aired", "missing", "missed", "failed", "aborted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    key TEXT PRIMARY KEY,
    slot_at TEXT NOT NULL,
    segment TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    last_seq INTEGER,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class OfferResult:
    """What became of an offered schedule. ``status`` is ``accepted``, ``duplicate``
    (same version, same bytes: re-ack) or ``rejected`` (then ``error`` says why)."""

    status: str
    version: int | None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


@dataclass(frozen=True)
class SlotRecord:
    key: str
    slot_at: str
    segment: str
    version: int
    state: str
    last_seq: int | None


class ScheduleStore:
    """Holds the verified schedule in force and the settled slots. Thread safe."""

    def __init__(self, directory: Path, *, district: str, station: str, keys: KeyRing) -> None:
        self.directory = Path(directory)
        ensure_private_dir(self.directory)
        self.district = district
        self.station = station
        self._keys = keys
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.directory / "slots.sqlite3", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._schedule: Schedule | None = None
        self._jws: bytes | None = None
        self._previous: Schedule | None = None
        self.error: str | None = self._meta("schedule_error")
        self._load()

    @property
    def path(self) -> Path:
        return self.directory / "current.jws"

    @property
    def previous_path(self) -> Path:
        return self.directory / "previous.jws"

    @property
    def previous(self) -> Schedule | None:
        """The schedule the current one replaced, while the current one's media is incomplete."""
        with self._lock:
            return self._previous

    @property
    def previous_since_at(self) -> datetime | None:
        value = self._meta("previous_since_at")
        return parse_rfc3339(value) if value else None

    def release_previous(self, now_at: datetime) -> bool:
        """The current schedule's media is complete: it is in force from ``now_at`` (its
        slots before that are not this station's) and the previous one is forgotten.
        True if there was a previous schedule."""
        with self._lock:
            if self._previous is None:
                return False
            self._set_meta("since_at", format_rfc3339(now_at))
            self._previous = None
            self.previous_path.unlink(missing_ok=True)
            self._set_meta("previous_since_at", None)
            log.info("schedule in force station=%s version=%s media complete", self.station, self.version)
            return True

    # --- the schedule ------------------------------------------------------------------

    @property
    def current(self) -> Schedule | None:
        with self._lock:
            return self._schedule

    @property
    def current_jws(self) -> bytes | None:
        with self._lock:
            return self._jws

    @property
    def version(self) -> int | None:
        schedule = self.current
        return schedule.version if schedule else None

    @property
    def since_at(self) -> datetime | None:
        """When the schedule in force was accepted: slots before it are not this station's."""
        value = self._meta("since_at")
        return parse_rfc3339(value) if value else None

    def _load(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        try:
            self._schedule = self._check(raw)
            self._jws = raw
        except (JoseError, ScheduleError) as exc:
            self.error = _bounded(f"stored schedule no longer valid: {exc}")
            log.error("schedule stored-invalid station=%s error=%s", self.station, exc)
        if self._schedule is not None and self.previous_path.exists():
            try:
                previous = self._check(self.previous_path.read_bytes())
            except (JoseError, ScheduleError) as exc:
                log.error("schedule previous-invalid station=%s error=%s", self.station, exc)
                return
            if previous.version < self._schedule.version:
                self._previous = previous

    def _check(self, raw: bytes) -> Schedule:
        verified = verify(raw, self._keys, SCHEDULE_TYP, max_bytes=MAX_SCHEDULE_BYTES)
        payload = verified.payload
        problems = []
        if payload.get("district") != self.district:
            problems.append(f"district {payload.get('district')!r} is not this station's ({self.district!r})")
        if payload.get("station") != self.station:
            problems.append(f"station {payload.get('station')!r} is not this station ({self.station!r})")
        if problems:
            raise ScheduleError("wrong-station", problems)
        return parse_schedule(payload)

    def offer(self, raw: bytes, now_at: datetime) -> OfferResult:
        """Consider a schedule JWS received at ``now_at``; never raises for bad input.

        ``raw`` as the link's ``OversizedMessage`` (a message cut to a bounded prefix)
        counts as its ``size`` bytes long.
        """
        size = max(len(raw), raw.size) if isinstance(raw, OversizedMessage) else len(raw)
        with self._lock:
            current = self._schedule
            if size > MAX_SCHEDULE_BYTES:
                result = OfferResult("rejected", None,
                                     f"too-large: {size} bytes, limit {MAX_SCHEDULE_BYTES}")
            else:
                result = self._offer(bytes(raw), now_at, current)
            if result.status == "rejected":
                self.error = result.error
                self._set_meta("schedule_error", result.error)
                log.warning("schedule rejected station=%s error=%s", self.station, result.error)
            else:  # accepted, or the one in force re-delivered: no error stands
                self.error = None
                self._set_meta("schedule_error", None)
                log.info("schedule %s station=%s version=%s", result.status, self.station, result.version)
            return result

    def _offer(self, raw: bytes, now_at: datetime, current: Schedule | None) -> OfferResult:
        try:
            schedule = self._check(raw)
        except JoseError as exc:
            return OfferResult("rejected", None, _bounded(
                f"{exc.reason}: not signed by a pinned district key: {exc.detail}"))
        except ScheduleError as exc:
            return OfferResult("rejected", None, _describe(exc))
        if current is not None and schedule.version <= current.version:
            if schedule.version == current.version and raw == self._jws:
                return OfferResult("duplicate", schedule.version)
            if schedule.version == current.version:
                return OfferResult("rejected", schedule.version,
                                   f"same-version: version {schedule.version} already applied "
                                   "with other content")
            return OfferResult("rejected", schedule.version,
                               f"old-version: {schedule.version} is not above {current.version}")
        if current is not None and self._jws is not None and self._previous is None:
            atomic_write(self.previous_path, self._jws, mode=0o600)  # before current.jws changes
            self._set_meta("previous_since_at", self._meta("since_at"))
            self._previous = current
        atomic_write(self.path, raw, mode=0o600)
        self._set_meta("since_at", format_rfc3339(now_at))
        self._schedule = schedule
        self._jws = raw
        return OfferResult("accepted", schedule.version)

    # --- slot states -------------------------------------------------------------------

    def done_keys(self) -> set[str]:
        """Keys of every slot already started or settled (never to be started again)."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT key FROM slots")}

    def mark(self, key: str, slot_at: datetime, segment: str, version: int, state: str,
             now_at: datetime, last_seq: int | None = None) -> None:
        """Durably set a slot's state (committed before this returns)."""
        if state not in SLOT_STATES:
            raise ValueError(f"unknown slot state {state!r}")
        with self._lock:
            self._db.execute(
                "INSERT INTO slots(key, slot_at, segment, version, state, last_seq, updated_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET state=excluded.state,"
                " last_seq=COALESCE(excluded.last_seq, slots.last_seq), updated_at=excluded.updated_at",
                (key, format_rfc3339(slot_at), segment, version, state, last_seq, format_rfc3339(now_at)))

    def slots_in_state(self, *states: str) -> list[SlotRecord]:
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(
                f"SELECT key, slot_at, segment, version, state, last_seq FROM slots WHERE state IN ({marks})"
                " ORDER BY slot_at", states).fetchall()
        return [SlotRecord(*row) for row in rows]

    def state_counts(self, keys: Collection[str] | None = None) -> dict[str, int]:
        """How many slots are in each state; only the slots whose key is in ``keys`` when
        given (e.g. the slots of the schedule in force: earlier schedules' slots stay in the
        table so that none is ever started twice)."""
        with self._lock:
            rows = self._db.execute("SELECT key, state FROM slots").fetchall()
        counts: dict[str, int] = {}
        for key, state in rows:
            if keys is None or key in keys:
                counts[state] = counts.get(state, 0) + 1
        return counts

    # --- meta --------------------------------------------------------------------------

    def _meta(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, name: str, value: str | None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO meta(name, value) VALUES (?,?) ON CONFLICT(name)"
                             " DO UPDATE SET value=excluded.value", (name, value))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _bounded(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters (a hostile payload must not bloat the status)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe(exc: ScheduleError) -> str:
    """``reason: problem; problem (+N more)``: the first problems, bounded in length."""
    shown = exc.problems[:MAX_ERROR_PROBLEMS]
    more = len(exc.problems) - len(shown)
    suffix = f" (+{more} more)" if more else ""
    return _bounded(f"{exc.reason}: " + "; ".join(shown), MAX_ERROR_CHARS - len(suffix)) + suffix


def schedule_sha256(raw: bytes) -> str:
    return sha256_hex(raw)
