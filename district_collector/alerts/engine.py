"""The alert engine: one evaluation pass over the store at an injected ``now``.

:func:`evaluate` (or :meth:`AlertEngine.evaluate`, which keeps caches between passes)
reads the events stored since the last pass (a cursor saved in the store), runs every rule
family, and turns findings into changes:

- a finding whose identity ``(kind, subject, occurrence)`` has no alert: **open** (an
  ``EPISODE`` finding joins the open alert of its kind and subject, else opens with its
  ``since`` as occurrence);
- a finding of an open alert whose detail changed: **update** (no notification);
- an open alert of a kind a rule owns, in its scope, no longer found: **resolve**; and the
  rules' explicit resolutions.

Opens and resolves queue one notification per configured channel in the same transaction
(:meth:`~district_collector.store.base_alerts.AlertsStore.record_alert_changes`); a
non-urgent one made in quiet hours waits until they end. Then reminders (open, not
acknowledged, last told ``remind_after_s`` ago) and the daily digest are queued, each with
a dedupe key so a restart queues nothing twice. A rule that fails is logged and resolves
nothing that pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from district_collector.alerts.config import AlertsConfig
from district_collector.alerts.model import EPISODE, URGENT, Alert, AlertKey, Finding, detail_text
from district_collector.alerts.quiet import quiet_until
from district_collector.alerts.rules.airings import airings, decode_event
from district_collector.alerts.rules.context import NewEvent, RuleContext, RuleResult
from district_collector.alerts.rules.evidence import evidence
from district_collector.alerts.rules.scoring import scoring
from district_collector.alerts.rules.station import station_health
from district_collector.config import DistrictConfig
from district_collector.scoring.compute import no_gc_pauses
from district_collector.store.base import Store
from district_collector.store.base_alerts import AlertChange, utc_text
from radio_protocol.timefmt import parse_rfc3339

log = logging.getLogger(__name__)

Rule = Callable[[RuleContext], RuleResult]
RULES: tuple[tuple[str, Rule], ...] = (("station", station_health), ("airings", airings), ("scoring", scoring),
                                       ("evidence", evidence))


@dataclass
class PassResult:
    """What one pass changed (alerts as stored after the change)."""

    opened: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    failed_rules: list[str] = field(default_factory=list)


class AlertEngine:
    """Evaluates the rules of ``config.alerts``; keep one per thread (it caches parsed
    schedules and the last scoring time between passes)."""

    def __init__(self, config: DistrictConfig, rules: tuple[tuple[str, Rule], ...] = RULES) -> None:
        self.config = config
        self.alerts: AlertsConfig = config.alerts or AlertsConfig()
        self.rules = rules
        self.cache: dict[str, Any] = {}
        self.tz = ZoneInfo(config.district.timezone)

    def not_before(self, kind: str, now: datetime) -> datetime:
        """When a notification of ``kind`` made at ``now`` may go out (quiet hours)."""
        if kind in URGENT:
            return now
        return quiet_until(self.alerts, now, self.tz) or now

    def _new_events(self, store: Store, state: dict[str, Any], now: datetime) -> list[NewEvent]:
        """The events stored since the last pass, decoded; those received before the
        lookback horizon are skipped undecoded (the first pass over a large store then
        holds only the recent ones)."""
        cursor = int(state.get("event_cursor", 0))
        horizon = now - timedelta(days=self.alerts.lookback_days)
        events = []
        while True:
            page = store.events_after(cursor)
            for ref in page:
                cursor = ref.cursor
                try:
                    if parse_rfc3339(ref.received_at) < horizon:
                        continue
                except ValueError:
                    continue
                ev = decode_event(ref.jws, ref.received_at)
                if ev is not None:
                    events.append(ev)
            if len(page) < 5000:
                break
        state["event_cursor"] = cursor
        return events

    def evaluate(self, store: Store, now: datetime) -> PassResult:
        """One pass at ``now`` (aware); committed when it returns."""
        with no_gc_pauses():  # a pass makes many small objects; a GC sweep mid-pass costs more than it frees
            return self._evaluate(store, now)

    def _evaluate(self, store: Store, now: datetime) -> PassResult:
        state = store.alert_state()
        ctx = RuleContext(store, self.config, self.alerts, now, state, self._new_events(store, state, now), self.cache)
        results: list[RuleResult] = []
        result = PassResult()
        for name, rule in self.rules:
            try:
                results.append(rule(ctx))
            except Exception:
                log.exception("alert rule failed rule=%s", name)
                result.failed_rules.append(name)
        changes = self._changes(ctx.open_alerts(), results, now)
        channels = list(self.alerts.channels)
        stored = store.record_alert_changes(changes, channels, now) if changes else []
        by_id = {a.id: a for a in stored}
        by_identity = {(a.kind, a.subject, a.occurrence): a for a in stored}
        for ch in changes:
            alert = by_id.get(ch.alert_id or -1)
            if ch.action == "open" and ch.finding is not None:
                alert = by_identity.get(ch.finding.identity)
            if alert is None:
                continue
            {"open": result.opened, "update": result.updated, "resolve": result.resolved}[ch.action].append(alert)
        for a in result.opened:
            log.info("alert opened id=%d kind=%s subject=%s occurrence=%s", a.id, a.kind, a.subject, a.occurrence)
        for a in result.resolved:
            log.info("alert resolved id=%d kind=%s subject=%s", a.id, a.kind, a.subject)
        self._reminders(store, now, channels)
        self._digest(store, now, state)
        store.save_alert_state(state)
        return result

    def _changes(self, open_alerts: list[AlertKey], results: list[RuleResult], now: datetime) -> list[AlertChange]:
        by_identity = {(a.kind, a.subject, a.occurrence): a for a in open_alerts}
        by_episode = {(a.kind, a.subject): a for a in open_alerts}
        changes: list[AlertChange] = []
        kept: set[int] = set()
        opened: set[tuple[str, str, str]] = set()
        for res in results:
            for f in res.findings:
                alert = by_episode.get((f.kind, f.subject)) if f.occurrence == EPISODE else by_identity.get(f.identity)
                if alert is not None:
                    kept.add(alert.id)
                    if alert.detail != detail_text(f.detail):
                        changes.append(AlertChange("update", f, alert.id))
                    continue
                if f.occurrence == EPISODE:
                    f = Finding(f.kind, f.subject, f.since or utc_text(now), f.since, f.station, f.commune, f.detail)
                if f.identity in opened:
                    continue
                opened.add(f.identity)
                changes.append(AlertChange("open", f, not_before=self.not_before(f.kind, now)))
        resolving: dict[int, str] = {}
        by_kind: dict[str, list[AlertKey]] = {}
        for alert in open_alerts:
            if alert.id not in kept:
                by_kind.setdefault(alert.kind, []).append(alert)
        for res in results:
            for kind in res.owned:
                for alert in by_kind.get(kind, []):
                    if res.scope is None or alert.subject in res.scope:
                        resolving.setdefault(alert.id, "cleared")
            for (kind, subject, occurrence), note in res.resolve.items():
                for alert in by_kind.get(kind, []):
                    if alert.subject == subject and alert.occurrence == occurrence:
                        resolving[alert.id] = note
            latest: dict[tuple[str, str], tuple[str, str]] = {}
            for kind, subject, before, why in res.resolve_before:
                if before > latest.get((kind, subject), ("", ""))[0]:
                    latest[(kind, subject)] = (before, why)
            for kind in {k for k, _ in latest}:
                for alert in by_kind.get(kind, []):
                    good = latest.get((kind, alert.subject))
                    if good is not None and alert.since < good[0]:
                        resolving[alert.id] = good[1]
        by_id = {a.id: a for a in open_alerts}
        for alert_id, note in sorted(resolving.items()):
            changes.append(AlertChange("resolve", alert_id=alert_id, note=note,
                                       not_before=self.not_before(by_id[alert_id].kind, now)))
        return changes

    def _reminders(self, store: Store, now: datetime, channels: list[str]) -> None:
        after = self.alerts.remind_after_s
        if after is None or not channels:
            return
        cutoff = utc_text(now - timedelta(seconds=after))
        keys = [k for k in store.open_alert_keys() if k.acked_at is None and (k.reminded_at or k.opened_at) <= cutoff]
        due = [a for a in (store.alert_row(k.id) for k in keys) if a is not None]
        for a in due:
            store.queue_notification("reminder", a.as_json(), channels, now, self.not_before(a.kind, now), a.id,
                                     dedupe=f"reminder:{a.id}:{a.reminded_at or a.opened_at}")
        if due:
            store.mark_reminded([a.id for a in due], now)

    def _digest(self, store: Store, now: datetime, state: dict[str, Any]) -> None:
        at = self.alerts.digest_at
        if at is None or "email" not in self.alerts.channels:
            return
        local = now.astimezone(self.tz)
        day = local.date().isoformat()
        if local.time() < at or state.get("digest_day") == day:
            return
        since = now - timedelta(days=1)
        payload = {"date": day, "open": [a.as_json() for a in store.open_alert_rows()],
                   "resolved": [a.as_json() for a in store.alert_rows_since(since) if a.state == "resolved"]}
        store.queue_notification("digest", payload, ["email"], now, now, None, dedupe=f"digest:{day}")
        state["digest_day"] = day


def evaluate(store: Store, config: DistrictConfig, now: datetime) -> PassResult:
    """One pass with a fresh engine (no caches kept): see :class:`AlertEngine`."""
    return AlertEngine(config).evaluate(store, now)
