"""The alert loop inside ``radio-district run``: its own thread and its own store connection.

Every ``alerts.interval_s`` it runs one engine pass; every second (or ``interval_s`` when
shorter) it delivers what is due. It never touches the ingest worker: it reads the store
through its own connection (SQLite WAL readers do not block the writer, and its short
writes wait for the writer's lock with the store's timeout). A failing pass or round is
logged and the loop goes on.
"""

from __future__ import annotations

import logging
import threading

from district_collector.alerts.channels.base import Channel
from district_collector.alerts.delivery import build_channels, deliver
from district_collector.alerts.engine import AlertEngine
from district_collector.config import DistrictConfig
from district_collector.store.opening import open_store
from radio_protocol.clock import Clock

log = logging.getLogger(__name__)


class AlertRunner:
    """``start()`` begins the thread; ``stop()`` ends it (the current pass finishes first)."""

    def __init__(self, config: DistrictConfig, clock: Clock) -> None:
        assert config.alerts is not None
        self.config = config
        self.alerts = config.alerts
        self.clock = clock
        self.channels: dict[str, Channel] = build_channels(config)  # ConfigError at startup, not later
        self.passes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()
        log.info("alerts started interval_s=%s channels=%s", self.alerts.interval_s,
                 ",".join(self.channels) or "none")

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        store = open_store(self.config)
        engine = AlertEngine(self.config)
        tick = min(1.0, self.alerts.interval_s)
        next_pass = self.clock.monotonic()
        try:
            while not self._stop.is_set():
                if self.clock.monotonic() >= next_pass:
                    next_pass = self.clock.monotonic() + self.alerts.interval_s
                    try:
                        engine.evaluate(store, self.clock.now())
                        self.passes += 1
                    except Exception:
                        log.exception("alert pass failed")
                try:
                    deliver(store, self.channels, self.clock.now())
                except Exception:
                    log.exception("alert delivery round failed")
                self._stop.wait(tick)
        finally:
            store.close()


def start_alerts(config: DistrictConfig, clock: Clock) -> AlertRunner | None:
    """The running alert loop, or None when the config has no enabled ``alerts:`` section."""
    if config.alerts is None or not config.alerts.enabled:
        return None
    runner = AlertRunner(config, clock)
    runner.start()
    return runner
