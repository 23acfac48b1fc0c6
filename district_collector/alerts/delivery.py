"""Delivering the durable notification queue: in order, once per channel, retried with backoff.

:func:`deliver` takes each channel's due notifications (``not_before <= now``) in queue
order. The first one waiting for its retry time (``next_try_at``) stops that channel for
this round, so a later notification never overtakes an earlier one. A success is
recorded before the next is tried; a failure records the error and the next try
``backoff(attempts)`` later (15 s doubling, at most :data:`MAX_BACKOFF_S`), and stops the
channel for this round. Nothing is dropped: a notification stays queued until delivered.

Exactly once: a notification is marked delivered right after the channel accepted it;
only a crash between the two could send it again (e-mails then carry the same
Message-ID, webhooks the same ``X-Commune-Radio-Delivery``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from district_collector.alerts.channels.base import Channel, ChannelError
from district_collector.alerts.channels.email import EmailChannel
from district_collector.alerts.channels.webhook import WebhookChannel
from district_collector.alerts.config import AlertsConfig
from district_collector.config import DistrictConfig
from district_collector.store.base_alerts import AlertsStore, utc_text

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 15.0
MAX_BACKOFF_S = 300.0


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1-based)."""
    return timedelta(seconds=min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** max(0, min(attempts - 1, 20))))


@dataclass
class Round:
    """What one delivery round did on one channel."""

    delivered: list[int] = field(default_factory=list)
    failed: int | None = None
    error: str | None = None
    waiting: int = 0


def build_channels(config: DistrictConfig) -> dict[str, Channel]:
    """The configured channels (secrets read now). ConfigError when a secret file cannot be used."""
    a = config.alerts or AlertsConfig()
    tz = ZoneInfo(config.district.timezone)
    channels: dict[str, Channel] = {}
    if a.email is not None:
        channels["email"] = EmailChannel(a.email, a.language, tz, config.district.name, a.console_url,
                                         str(config.source))
    if a.webhook is not None:
        channels["webhook"] = WebhookChannel(a.webhook, a.console_url, str(config.source))
    return channels


def deliver(store: AlertsStore, channels: Mapping[str, Channel], now: datetime, limit: int = 50) -> dict[str, Round]:
    """One delivery round at ``now`` over every channel (see the module's contract)."""
    rounds: dict[str, Round] = {}
    now_text = utc_text(now)
    for name, channel in channels.items():
        r = rounds[name] = Round()
        for n in store.due_notifications(name, now, limit):
            if n.next_try_at > now_text:
                r.waiting += 1
                break
            try:
                channel.send(n)
            except ChannelError as exc:
                r.failed, r.error = n.id, str(exc)
                store.mark_notification(n.id, now, str(exc), now + backoff(n.attempts + 1))
                log.warning("alert notification failed channel=%s id=%d attempt=%d error=%s", name, n.id,
                            n.attempts + 1, exc)
                break
            except Exception as exc:  # a bug in a channel must not stop the loop, nor lose the row
                r.failed, r.error = n.id, f"{type(exc).__name__}: {exc}"
                store.mark_notification(n.id, now, r.error, now + backoff(n.attempts + 1))
                log.exception("alert notification crashed channel=%s id=%d", name, n.id)
                break
            store.mark_notification(n.id, now, None, None)
            r.delivered.append(n.id)
            log.info("alert notification delivered channel=%s id=%d transition=%s alert=%s", name, n.id,
                     n.transition, n.alert_id)
    return rounds
