"""A notification as the people read it: subject and body text (e-mail), JSON (webhook).

:func:`render_mail` names the commune, the station, what is wrong, since when (district
time) and what to do, in ``alerts.language``; a resolution says when and why it cleared.
:func:`webhook_body` is the issue's payload: ``{"id", "kind", "state", "station",
"commune", "opened_at", "resolved_at", "detail", "url"}`` plus ``transition``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from district_collector.alerts.messages import (
    DETAIL_LABELS,
    KIND_TEXT,
    RESOLUTION,
    VALUE_TEXT,
    text,
)
from district_collector.alerts.model import Notification
from radio_protocol.timefmt import parse_rfc3339


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def local_time(value: object, tz: ZoneInfo) -> str:
    """An RFC 3339 text as ``HH:MM dd/mm/YYYY`` district time (the text itself when unreadable)."""
    if not isinstance(value, str):
        return "-"
    try:
        return parse_rfc3339(value).astimezone(tz).strftime("%H:%M %d/%m/%Y")
    except ValueError:
        return value


def _value(name: str, value: object, lang: str, tz: ZoneInfo) -> str:
    i = 0 if lang == "vi" else 1
    if isinstance(value, str) and value in VALUE_TEXT:
        return VALUE_TEXT[value][i]
    if name.endswith("_at") or name in ("slot", "next_slot"):
        return local_time(value, tz)
    if isinstance(value, list):
        return ", ".join("-".join(map(str, v)) if isinstance(v, list) else str(v) for v in value)
    return str(value)


def _title(kind: str, lang: str) -> str:
    return KIND_TEXT.get(kind, ((kind, kind), ("", "")))[0][0 if lang == "vi" else 1]


def _place(alert: dict[str, Any], lang: str) -> str:
    d = alert.get("detail") or {}
    commune = d.get("commune_name") or alert.get("commune") or text("district_wide", lang)
    station = alert.get("station")
    return f"{commune}" + (f", {text('station', lang).lower()} {station}" if station else "")


def alert_lines(alert: dict[str, Any], lang: str, tz: ZoneInfo) -> list[str]:
    """The body lines of one alert (shared by alert mails and the digest)."""
    i = 0 if lang == "vi" else 1
    kind = str(alert.get("kind"))
    d: dict[str, Any] = alert.get("detail") or {}
    lines = [
        f"{text('problem', lang)}: {_title(kind, lang)}",
        f"{text('commune', lang)}: {d.get('commune_name') or alert.get('commune') or '-'}"
        + (f" ({alert.get('commune')})" if alert.get("commune") else ""),
        f"{text('station', lang)}: {alert.get('station') or ', '.join(d.get('stations') or []) or '-'}",
        f"{text('since', lang)}: {local_time(alert.get('since') or alert.get('opened_at'), tz)}",
    ]
    if alert.get("state") == "resolved":
        lines.append(f"{text('resolved_at', lang)}: {local_time(alert.get('resolved_at'), tz)}")
        why = d.get("resolution")
        if isinstance(why, str):
            lines.append(f"{text('resolution', lang)}: {RESOLUTION.get(why, (why, why))[i]}")
    else:
        lines.append(f"{text('todo', lang)}: {KIND_TEXT.get(kind, ((kind, kind), ('-', '-')))[1][i]}")
    extra = [f"  - {DETAIL_LABELS[k][i]}: {_value(k, v, lang, tz)}" for k, v in d.items()
             if k in DETAIL_LABELS and v not in (None, "", [])]
    if extra:
        lines.append(f"{text('details', lang)}:")
        lines.extend(extra)
    if kind in ("week-at-risk", "month-at-risk") and alert.get("state") == "open":
        remaining = d.get("remaining") or []
        if remaining:
            lines.append(f"{text('remaining', lang)}:")
            lines.extend(f"  - {r['station']}: {local_time(r['at'], tz)} {r.get('title', '')}" for r in remaining)
        else:
            lines.append(text("no_remaining", lang))
    return lines


def render_mail(n: Notification, lang: str, tz: ZoneInfo, district: str, url: str | None) -> Mail:
    """The e-mail of notification ``n``."""
    brand = f"[{text('brand', lang)} {district}]"
    if n.transition == "test":
        return Mail(f"{brand} {text('test_subject', lang)}", text("test_body", lang) + "\n")
    if n.transition == "digest":
        return _digest(n.payload, lang, tz, brand)
    alert = n.payload
    prefix = {"resolved": f"[{text('resolved', lang)}] ", "reminder": f"[{text('reminder', lang)}] "}.get(
        n.transition, "")
    since = local_time(alert.get("since") or alert.get("opened_at"), tz)
    subject = f"{brand} {prefix}{_title(str(alert.get('kind')), lang)}: {_place(alert, lang)} ({since})"
    lines = alert_lines(alert, lang, tz)
    lines += ["", f"{text('alert_id', lang)}: {alert.get('id')}"]
    if alert.get("state") == "open":
        lines.append(text("ack_hint", lang).format(id=alert.get("id")))
    if url:
        lines.append(url)
    return Mail(subject, "\n".join(lines) + "\n")


def _digest(payload: dict[str, Any], lang: str, tz: ZoneInfo, brand: str) -> Mail:
    opened = payload.get("open") or []
    resolved = payload.get("resolved") or []
    subject = f"{brand} " + text("digest_subject", lang).format(date=payload.get("date"), open=len(opened))
    lines = [f"{text('digest_open', lang)} ({len(opened)}):"]
    if not opened:
        lines.append(text("digest_none", lang))
    for a in opened:
        lines += ["", f"#{a.get('id')}"] + alert_lines(a, lang, tz)
    lines += ["", f"{text('digest_resolved', lang)} ({len(resolved)}):"]
    for a in resolved:
        lines.append(f"  #{a.get('id')} {_title(str(a.get('kind')), lang)}: {_place(a, lang)}")
    return Mail(subject, "\n".join(lines) + "\n")


def webhook_body(n: Notification, url: str | None, at: datetime | None = None) -> bytes:
    """The JSON body POSTed for ``n`` (UTF-8, compact)."""
    if n.transition in ("test", "digest"):
        body: dict[str, Any] = {"id": None, "kind": n.transition, "state": n.transition, "station": None,
                                "commune": None, "opened_at": n.created_at, "resolved_at": None,
                                "detail": n.payload, "url": url, "transition": n.transition}
    else:
        a = n.payload
        body = {k: a.get(k) for k in ("id", "kind", "state", "station", "commune", "opened_at", "resolved_at",
                                      "detail")}
        body.update(url=url, transition=n.transition, notification=n.id)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
