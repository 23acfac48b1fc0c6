"""Evidence: ``evidence-problem`` for a station whose stored chain has a problem.

Checked for the stations whose events arrived since the last pass and those with an open
alert (so a filled gap clears it), with the store's
:meth:`~district_collector.store.base.Store.seq_summary`:

- a chain break or a conflict (same seq, two payloads): a problem at once;
- a seq gap: a problem once the station's own status says nothing is pending
  (``outbox_pending`` 0 and ``last_seq`` past the gap): events in flight are not lost;
- a message on the station's topic quarantined for a bad signature or an unknown key
  within ``lookback_days``: someone else is writing there.

One alert per station and episode; its detail lists what is wrong now.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from district_collector.alerts.model import EPISODE, Finding
from district_collector.alerts.rules.context import RuleContext, RuleResult
from district_collector.store.base_alerts import utc_text
from radio_protocol.timefmt import parse_rfc3339

KINDS = ("evidence-problem",)
FORGERY_REASONS = frozenset({"bad-signature", "unknown-kid", "alg", "typ"})


def _forgeries(ctx: RuleContext) -> dict[str, str]:
    """Per station, the latest time a message on its topic failed its signature."""
    cursor = int(ctx.state.get("quarantine_cursor", 0))
    bad: dict[str, str] = ctx.state.setdefault("forged_at", {})
    for qid, station, reason, received_at in ctx.store.quarantine_after(cursor):
        cursor = qid
        if station is not None and reason in FORGERY_REASONS:
            bad[station] = max(bad.get(station, ""), utc_text(parse_rfc3339(received_at)))
    ctx.state["quarantine_cursor"] = cursor
    horizon = utc_text(ctx.now - timedelta(days=ctx.alerts.lookback_days))
    for station in [s for s, at in bad.items() if at < horizon]:
        del bad[station]
    return bad


def evidence(ctx: RuleContext) -> RuleResult:
    """Evidence findings for the stations touched by new events, forged messages or an open alert."""
    forged = _forgeries(ctx)
    arrived: dict[str, tuple[int, int]] = {}
    for e in ctx.new_events:
        station, seq = e.payload.get("station"), e.payload.get("seq")
        if isinstance(station, str) and isinstance(seq, int):
            lo, hi = arrived.get(station, (seq, seq))
            arrived[station] = (min(lo, seq), max(hi, seq))
    stations = set(forged) | {a.subject for a in ctx.open_alerts(KINDS)}
    for station, (lo, hi) in arrived.items():  # the full summary only where the cheap check finds something
        if station in stations or any(ctx.store.seq_health(station, lo, hi)):
            stations.add(station)
    scope_all = set(arrived) | stations
    rows = {row.station: row for row in ctx.statuses()}
    scope = {s for s in scope_all if ctx.station(s) is not None}
    out = RuleResult(owned=KINDS, scope=scope)
    for station in sorted(s for s in stations if s in scope):
        problems: dict[str, Any] = {}
        summary = ctx.store.seq_summary(station)
        if summary.chain_breaks:
            problems["chain_breaks"] = list(summary.chain_breaks[:20])
        if summary.conflicts:
            problems["conflicts"] = list(summary.conflicts[:20])
        st = ctx.parsed_status(rows[station]) if station in rows else None
        if summary.gaps and st is not None and st.outbox_pending == 0 and (st.last_seq or 0) >= summary.gaps[-1][1]:
            problems["gaps"] = [list(g) for g in summary.gaps[:20]]
        if station in forged:
            problems["forged_at"] = forged[station]
        if problems:
            first = forged.get(station) or utc_text(ctx.now)
            out.findings.append(Finding("evidence-problem", station, EPISODE, first, station,
                                        ctx.place(station)["commune"], {**ctx.place(station), **problems}))
    return out
