"""The airing sequence: amp on -> warm-up -> audio -> tail -> amp off, and its signed event.

:class:`Airer` runs one airing and commits its event to the outbox before returning.
The amplifier goes off on every path: normal end, audio or media error, any exception,
and a ``stop`` event (set by SIGTERM/SIGINT, or by the scheduler to pre-empt). Every
wait goes through the injected :class:`~radio_protocol.clock.Clock` and watches ``stop``.

The media file and the sound device are opened (``prepare``) before the amplifier goes
on: a missing file or a dead card is a ``failed`` airing that never powers the speakers.
For a scheduled airing (``slot_at``) the caller starts a little early (warm-up plus an
allowance for ``prepare``); after ``prepare`` the Airer waits until ``slot_at - warmup_s``
to switch the amp on and until ``slot_at`` to write the first block, so the first sample
leaves at the slot time. On a simulated clock the audio takes simulated time too (the
clock advances by each block's length), so simulated events are consistent and a long
segment really overlaps the next slot.

Evidence under faults: right before the amplifier goes on, the airing's start (segment,
slot, ``amp.on_at``) is stored durably as the outbox's in-progress mark
(:mod:`firmware_daemon.airing.in_progress`), refreshed every ``PROGRESS_MARK_S`` of audio
and deleted in the transaction that commits the event. A station that dies mid-airing
therefore records it ``interrupted``/``station-down`` at its next start. A mark that
cannot be written (disk full past the reserve) is logged and the airing goes on: the
loudspeakers are the station's purpose.

Outcomes (docs/protocol.md): ``completed`` (the whole segment went out; a stop during the tail
only shortens the tail), ``interrupted`` (the amp was on, then the airing stopped early),
``failed`` (could not start: media missing/corrupt or device missing/refusing, found
before the amp was switched), ``missed`` (see :meth:`Airer.record_missed`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from firmware_daemon.airing.in_progress import (
    IN_PROGRESS_KEY,
    PROGRESS_MARK_S,
    AiringStart,
    start_to_json,
)
from firmware_daemon.airing.outbox import Outbox, OutboxError
from firmware_daemon.config import StationConfig
from firmware_daemon.service.sysinfo import boot_id as kernel_boot_id
from firmware_daemon.service.sysinfo import kernel_clock_synced
from hal.amplifier.base import Amplifier
from hal.audio.base import AudioOutput, PreparedAudio
from hal.errors import HalError
from hal.media import PlaybackResult
from radio_protocol.clock import Clock
from radio_protocol.messages.event import AiringEvent, Amp, Level, Segment, build_event

__all__ = ["Airer", "Segment", "StopReason"]

log = logging.getLogger(__name__)

WAIT_STEP_S = 0.05  # how often waits look at ``stop``
FEEDBACK_SETTLE_S = 0.2  # how long a relay may take before feedback must agree
SOFTWARE_ERROR = "software-error"

StopReason = str | Callable[[], str]
"""Why a ``stop`` ended an airing: fixed, or asked when the stop is observed."""


@dataclass
class _Progress:
    """What happened so far in one airing (filled in as it goes)."""

    attempt_at: datetime
    media_s: float | None = None
    amp_on_at: datetime | None = None
    amp_off_at: datetime | None = None
    started_at: datetime | None = None
    started_mono: float | None = None
    ended_at: datetime | None = None
    confirmations: list[bool | None] = field(default_factory=list)
    result: PlaybackResult | None = None
    outcome: str = "completed"
    reason: str | None = None
    mark: AiringStart | None = None  # the durable in-progress mark, once written

    def fail(self, reason: str) -> None:
        """An error: ``interrupted`` once audio has started, else ``failed`` (could not start)."""
        self.outcome = "interrupted" if self.started_at is not None else "failed"
        self.reason = reason

    def stop(self, reason: str) -> None:
        """A stop request: ``interrupted`` once the amp is on (the airing had begun)."""
        self.outcome = "interrupted" if self.amp_on_at is not None else "failed"
        self.reason = reason

    def amp_confirmed(self) -> bool | None:
        if not self.confirmations or any(c is None for c in self.confirmations):
            return None
        return all(self.confirmations)


class Airer:
    """Airs segments through one amplifier and one audio output, recording each airing.

    ``clock_synced`` and ``boot_id`` default to the kernel's answers (a simulated clock
    counts as synchronized). ``tz`` defaults to the configured timezone. ``on_progress``
    is called (from the airing's threads) on every step of its waits and after every
    audio block written: the daemon's watchdog beat, so a write that hangs stops it.
    """

    def __init__(self, amp: Amplifier, audio: AudioOutput, outbox: Outbox, clock: Clock,
                 config: StationConfig, tz: ZoneInfo | None = None, *,
                 clock_synced: Callable[[], bool] | None = None,
                 boot_id: str | None = None,
                 on_progress: Callable[[], None] | None = None) -> None:
        self._amp = amp
        self._audio = audio
        self._outbox = outbox
        self._clock = clock
        self._config = config
        self._tz = tz or config.tz
        self._clock_synced = clock_synced or (lambda: clock.simulated or kernel_clock_synced())
        self._boot_id = boot_id or kernel_boot_id()
        self._on_progress = on_progress or (lambda: None)
        self._station = config.station

    # --- the airing ------------------------------------------------------------------

    def air(self, segment: Segment, media_path: Path | str, *, slot_at: datetime | None = None,
            schedule_version: int | None = None, priority: str | None = None,
            stop: threading.Event | None = None,
            stop_reason: StopReason = "shutdown") -> dict[str, Any]:
        """Air ``media_path`` now and return the committed event payload.

        ``stop`` ends the airing early with reason ``stop_reason`` (``shutdown`` for a
        signal, ``preempted`` for the scheduler): a string, or a callable asked when the
        stop is observed, so whoever sets ``stop`` decides why at that moment. Errors
        become the event's outcome; only a failure to commit the event (or
        KeyboardInterrupt, after recording) propagates.
        """
        stop = stop or threading.Event()
        self._on_progress()
        media_path = Path(media_path)
        progress = _Progress(attempt_at=self._clock.now())
        interrupt: BaseException | None = None
        prepared: PreparedAudio | None = None
        try:
            prepared = self._prepare(media_path, progress)  # the amp is still off here
            if stop.is_set():
                progress.stop(_reason(stop_reason))
            else:
                template = AiringStart(segment, priority or segment.priority, schedule_version, slot_at,
                                       progress.attempt_at, progress.attempt_at, progress.media_s)
                self._run(stop, stop_reason, progress, prepared, slot_at, template)
        except HalError as exc:  # AudioDeviceError, MediaError, AmplifierError
            log.error("airing error segment=%s reason=%s detail=%s", segment.id, exc.reason,
                      exc.detail)
            progress.fail(exc.reason)
            if exc.partial is not None:  # what went out before the failure
                progress.result = exc.partial
        except Exception:
            log.exception("airing crashed segment=%s", segment.id)
            progress.fail(SOFTWARE_ERROR)
        except KeyboardInterrupt as exc:
            progress.stop("shutdown")
            interrupt = exc
        finally:
            self._switch_off(progress)
            if prepared is not None:
                _release(prepared)
        payload = self._commit(self._record(segment, progress, slot_at, schedule_version,
                                            priority), done_meta=IN_PROGRESS_KEY)
        if interrupt is not None:
            raise interrupt
        return payload

    def _prepare(self, media_path: Path, progress: _Progress) -> PreparedAudio:
        """Open the media and the device (amp still off). Raises ``HalError``."""
        progress.media_s = float(self._audio.probe(media_path).duration_s)  # even if no device
        return self._audio.prepare(media_path, margin_s=self._config.audio.margin_s)

    def _run(self, stop: threading.Event, stop_reason: StopReason, progress: _Progress,
             prepared: PreparedAudio, slot_at: datetime | None, template: AiringStart) -> None:
        """[wait for slot - warm-up] -> amp on -> warm-up [until the slot] -> audio -> tail;
        the caller switches off.

        With a slot, the amp goes on ``warmup_s`` before it and the first block is written
        at the slot (monotonic deadlines taken from the wall time now, so the time the
        media and stream took to open is not added to the slot); an airing started late
        still warms up fully. Without a slot (manual play) audio starts after the warm-up.
        """
        amp_cfg = self._config.amplifier
        slot_mono: float | None = None
        if slot_at is not None:
            slot_mono = self._clock.monotonic() + (slot_at - self._clock.now()).total_seconds()
            if self._wait_until(slot_mono - amp_cfg.warmup_s, stop):
                progress.stop(_reason(stop_reason))  # the amp never went on
                return
        on_at = self._clock.now()
        progress.mark = replace(template, amp_on_at=on_at)
        self._mark(progress.mark)  # durable before the speakers go live
        self._amp.on()
        progress.amp_on_at = on_at
        first_mono = self._clock.monotonic() + amp_cfg.warmup_s
        stopped = self._wait_until(max(first_mono, slot_mono or first_mono), stop)
        progress.confirmations.append(self._amp.confirmed)
        if stopped:
            progress.stop(_reason(stop_reason))
            return

        def on_start() -> None:
            progress.started_mono = self._clock.monotonic()
            progress.started_at = self._clock.now()

        simulated = self._clock.simulated
        played = [0.0]  # seconds of audio the simulated clock has been advanced by
        sent = [0.0, self._clock.monotonic()]  # seconds written, monotonic time of the last mark

        def on_block(seconds: float) -> None:
            self._on_progress()
            if simulated:  # simulated playback takes simulated time, block by block
                self._clock.sleep(seconds)
                played[0] += seconds
            sent[0] += seconds
            if progress.mark is not None and self._clock.monotonic() - sent[1] >= PROGRESS_MARK_S:
                sent[1] = self._clock.monotonic()
                progress.mark = progress.mark.progressed(progress.started_at, sent[0], self._clock.now())
                self._mark(progress.mark)

        result = prepared.run(stop=stop, on_start=on_start, on_block=on_block)
        progress.result = result
        if simulated and result.played_s > played[0]:  # audio not reported block by block
            self._clock.sleep(result.played_s - played[0])
        progress.ended_at = self._clock.now()
        if result.stopped:
            progress.stop(_reason(stop_reason))
            return
        self._wait(amp_cfg.tail_s, stop)  # a stop here only shortens the tail

    def _mark(self, mark: AiringStart) -> None:
        """Store the in-progress mark durably; a failure is logged and the airing goes on."""
        try:
            self._outbox.set_meta(IN_PROGRESS_KEY, start_to_json(mark))
        except OutboxError as exc:
            log.error("airing start not recorded segment=%s error=%s", mark.segment.id, exc)

    def _wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait ``seconds`` on the clock; True as soon as ``stop`` is set."""
        return self._wait_until(self._clock.monotonic() + seconds, stop)

    def _wait_until(self, end_mono: float, stop: threading.Event) -> bool:
        """Wait until the clock's monotonic ``end_mono``; True as soon as ``stop`` is set."""
        while not stop.is_set():
            self._on_progress()
            remaining = end_mono - self._clock.monotonic()
            if remaining <= 0:
                return False
            self._clock.sleep(min(remaining, WAIT_STEP_S))
        return True

    def _switch_off(self, progress: _Progress) -> None:
        """Amp off (always), then note when, and whether the feedback agrees."""
        self._amp.off()
        if progress.ended_at is None:
            progress.ended_at = self._clock.now()
        if progress.amp_on_at is None:
            return
        progress.amp_off_at = self._clock.now()
        settle_end = self._clock.monotonic() + FEEDBACK_SETTLE_S
        confirmed = self._amp.confirmed
        while confirmed is False and self._clock.monotonic() < settle_end:
            self._clock.sleep(0.01)
            confirmed = self._amp.confirmed
        progress.confirmations.append(confirmed)

    def _record(self, segment: Segment, progress: _Progress, slot_at: datetime | None,
                schedule_version: int | None, priority: str | None) -> AiringEvent:
        result = progress.result
        if result is not None:
            played_s = float(result.played_s)
            level = Level(result.rms_dbfs, result.peak_dbfs, result.silent_s) if played_s > 0 \
                else Level()  # nothing sent: no level to report
            if result.underruns:
                log.warning("audio underruns segment=%s count=%d", segment.id, result.underruns)
        elif progress.started_mono is not None:  # died mid-play, nothing measured: estimate
            played_s = self._clock.monotonic() - progress.started_mono
            level = Level()
        else:
            played_s, level = 0.0, Level()
        assert progress.ended_at is not None
        return self._event(
            segment=segment, priority=priority or segment.priority,
            schedule_version=schedule_version, slot_at=slot_at,
            started_at=progress.started_at or progress.amp_on_at or progress.attempt_at,
            ended_at=progress.ended_at, played_s=played_s,
            media_s=progress.media_s if progress.media_s is not None else
            (float(result.media_s) if result is not None else None),
            outcome=progress.outcome, reason=progress.reason,
            amp=Amp(progress.amp_on_at, progress.amp_off_at, progress.amp_confirmed()), level=level,
        )

    # --- airings that never reached the amplifier --------------------------------------

    def record_missed(self, segment: Segment, *, slot_at: datetime, reason: str,
                      schedule_version: int | None = None,
                      priority: str | None = None) -> dict[str, Any]:
        """Record a slot that passed without an attempt (``started_at`` = the slot)."""
        now_at = self._clock.now()
        return self._commit(self._bare_record(segment, "missed", reason, slot_at, slot_at,
                                              now_at, schedule_version, priority, None))

    def record_failed(self, segment: Segment, *, reason: str, slot_at: datetime | None = None,
                      schedule_version: int | None = None, priority: str | None = None,
                      media_s: float | None = None) -> dict[str, Any]:
        """Record an airing that could not start (e.g. ``media-missing``, ``clock-unsynced``)."""
        now_at = self._clock.now()
        return self._commit(self._bare_record(segment, "failed", reason, slot_at, now_at, now_at,
                                              schedule_version, priority, media_s))

    def _bare_record(self, segment: Segment, outcome: str, reason: str, slot_at: datetime | None,
                     started_at: datetime, ended_at: datetime, schedule_version: int | None,
                     priority: str | None, media_s: float | None) -> AiringEvent:
        return self._event(
            segment=segment, priority=priority or segment.priority,
            schedule_version=schedule_version, slot_at=slot_at, started_at=started_at,
            ended_at=ended_at, played_s=0.0, media_s=media_s, outcome=outcome, reason=reason,
            amp=Amp(), level=Level(),
        )

    # --- evidence --------------------------------------------------------------------

    def _event(self, *, segment: Segment, priority: str, schedule_version: int | None,
               slot_at: datetime | None, started_at: datetime, ended_at: datetime, played_s: float,
               media_s: float | None, outcome: str, reason: str | None, amp: Amp,
               level: Level) -> AiringEvent:
        """This station's event for one airing, not yet chained: ``seq`` 0 and ``prev`` None
        until :meth:`_commit` takes the outbox's next ones. Identity from the configured
        station; ``clock_synced`` and ``boot_id`` asked now."""
        ident = self._station
        return AiringEvent(
            district=ident.district, station=ident.id, commune=ident.commune, seq=0, prev=None,
            segment=segment, priority=priority, schedule_version=schedule_version, slot_at=slot_at,
            started_at=started_at, ended_at=ended_at, played_s=played_s, media_s=media_s,
            outcome=outcome, reason=reason, amp=amp, level=level,
            clock_synced=self._clock_synced(), boot_id=self._boot_id,
        )

    def _commit(self, event: AiringEvent, done_meta: str | None = None) -> dict[str, Any]:
        """Chain ``event`` as the outbox's next seq, sign and commit it (deleting meta key
        ``done_meta`` in the same transaction); the payload."""
        entry = self._outbox.append(
            lambda seq, prev: build_event(replace(event, seq=seq, prev=prev), self._tz),
            done_meta=done_meta)
        log.info("airing %s station=%s seq=%d segment=%s reason=%s played_s=%.3f",
                 event.outcome, event.station, entry.seq, event.segment.id,
                 event.reason, event.played_s)
        return entry.payload


def _reason(stop_reason: StopReason) -> str:
    """The stop reason now: a fixed string, or what the callable says at this moment."""
    return stop_reason if isinstance(stop_reason, str) else stop_reason()


def _release(prepared: PreparedAudio) -> None:
    """Close a prepared playback (a no-op once it ran); never raises."""
    try:
        prepared.close()
    except Exception:
        log.exception("releasing the audio stream failed")
