"""The alerts' public face for the console and the commands.

``open_alerts(store, communes=None)``, ``alert_history(store, since, communes=None)`` and
``acknowledge(store, alert_id, actor, note)`` (the console lists and acknowledges them);
``send_test(config, store, now)`` queues nothing: it sends one test message to every
channel at once and says which worked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from district_collector.alerts.channels.base import ChannelError
from district_collector.alerts.delivery import build_channels
from district_collector.alerts.model import Alert, AlertError, Notification
from district_collector.config import DistrictConfig
from district_collector.store.base_alerts import AlertsStore, utc_text


def _visible(alerts: list[Alert], communes: Collection[str] | None) -> list[Alert]:
    if communes is None:
        return alerts
    wanted = set(communes)
    return [a for a in alerts if a.commune in wanted]


def open_alerts(store: AlertsStore, communes: Collection[str] | None = None) -> list[Alert]:
    """Open alerts, newest first; only those of ``communes`` when given."""
    return _visible(store.open_alert_rows(), communes)


def alert_history(store: AlertsStore, since: datetime | None, communes: Collection[str] | None = None) -> list[Alert]:
    """Alerts opened or resolved since ``since`` (all without one), newest first."""
    return _visible(store.alert_rows_since(since), communes)


def acknowledge(store: AlertsStore, alert_id: int, actor: str, note: str | None = None,
                now: datetime | None = None) -> Alert:
    """Acknowledge an alert: no more reminders. AlertError when there is no such alert."""
    alert = store.acknowledge_alert(alert_id, actor, note, now or datetime.now(UTC))
    if alert is None:
        raise AlertError(f"no alert with id {alert_id}")
    return alert


@dataclass(frozen=True)
class TestResult:
    channel: str
    ok: bool
    error: str | None


def send_test(config: DistrictConfig, now: datetime) -> list[TestResult]:
    """Send one test message to every configured channel now; one result per channel."""
    channels = build_channels(config)
    if not channels:
        raise AlertError(f"{config.source}: alerts: no channel configured (add alerts.email or alerts.webhook)")
    note = Notification(0, "", "test", None, {"test": True, "at": utc_text(now)}, utc_text(now), utc_text(now), 0,
                        utc_text(now), None, None)
    results = []
    for name, channel in channels.items():
        try:
            channel.send(note)
            results.append(TestResult(name, True, None))
        except ChannelError as exc:
            results.append(TestResult(name, False, str(exc)))
    return results
