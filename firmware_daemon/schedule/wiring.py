"""Wiring the slot runner into the station daemon (``radio-station run``).

:func:`install` is the ``Daemon.startup_hooks`` hook the ``run`` command adds;
:func:`attach` opens the schedule store and media cache under ``data_dir``, builds the
Airer on the daemon's amplifier, outbox and clock, and hands the runner the daemon's
schedule messages and a timer. An audio output that cannot be opened does not stop the
station: every airing then records why it failed.
"""

from __future__ import annotations

import logging
from typing import Any

from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.runner import SlotRunner
from firmware_daemon.schedule.store import ScheduleStore

log = logging.getLogger(__name__)


def install(daemon: Any) -> None:
    """The ``Daemon.startup_hooks`` hook ``radio-station run`` uses: :func:`attach`."""
    attach(daemon)


def attach(daemon: Any, audio: Any = None) -> SlotRunner:
    """Air the schedule in this (started) daemon.

    Opens the schedule store (``data_dir/schedule``) and media cache (``data_dir/media``),
    builds an Airer on the daemon's amplifier, outbox and clock, takes over
    ``daemon.schedule_handler``, starts the media fetcher and adds the ``schedule`` timer.
    ``audio`` overrides the configured output (tests).
    """
    from firmware_daemon.airing.airer import Airer
    from hal.audio import AudioOutput, UnavailableAudio
    from hal.errors import HalError

    cfg = daemon.config
    store = ScheduleStore(cfg.data_dir / "schedule", district=cfg.station.district,
                          station=cfg.station.id, keys=daemon.district_keys)
    daemon.stack.callback(store.close)
    cache = MediaCache(cfg.data_dir / "media")
    if audio is None:
        try:
            audio = AudioOutput(cfg.audio.device, latency=cfg.audio.latency)
        except HalError as exc:
            log.error("audio output unavailable: %s (airings will record it)", exc)
            audio = UnavailableAudio(exc)
    airer = Airer(daemon.amplifier, audio, daemon.outbox, daemon.clock, cfg, tz=daemon.tz,
                  on_progress=daemon.supervisor.feed_player())
    runner = SlotRunner(store=store, cache=cache, airer=airer, clock=daemon.clock,
                        warmup_s=cfg.amplifier.warmup_s, grace_s=cfg.schedule.grace_s,
                        require_synced_clock=cfg.require_synced_clock, state=daemon.state,
                        outbox=daemon.outbox, on_event=daemon.event_recorded)
    daemon.schedule_handler = runner.on_schedule
    daemon.stack.callback(runner.shutdown)
    runner.start_fetcher()
    daemon.add_timer("schedule", runner.timer)
    daemon.scheduler = runner
    log.info("scheduler attached version=%s since=%s", store.version, store.since_at)
    return runner
