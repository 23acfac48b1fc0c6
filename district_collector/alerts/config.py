"""The ``alerts:`` section of district.yaml: read and validated like the rest of the file.

Every key is documented in ``config/district.example.yaml``. Problems are recorded on the
shared :class:`~radio_protocol.configschema.ConfigReader`, so they come out with the other
problems of the file, each with its dotted key and line. Secrets (SMTP password, webhook
secret) are never in the YAML: only the path of a file readable by its owner alone
(mode 0600), read when a channel is built (:func:`read_secret_file`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from radio_protocol.configschema import ConfigReader, config_path
from radio_protocol.errors import ConfigError

_KEYS = ("enabled", "language", "email", "webhook", "interval_s", "offline_after_s", "silence_after_s",
         "flapping", "week_at_risk", "month_at_risk", "quiet_hours", "digest_at", "remind_after_s",
         "schedule_apply_after_s", "slot_grace_s", "dead_air", "lookback_days", "console_url")
_EMAIL_KEYS = ("smtp_host", "smtp_port", "starttls", "ssl", "username", "password_file", "from", "to",
               "timeout_s")
_WEBHOOK_KEYS = ("url", "secret_file", "timeout_s")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
_EMAIL = r"[^@\s<>]+@[^@\s<>]+"


@dataclass(frozen=True)
class EmailConfig:
    """SMTP delivery: ``starttls`` upgrades a plain connection (port 587), ``ssl`` connects
    with TLS at once (port 465); ``password_file`` None means no login."""

    smtp_host: str
    smtp_port: int
    starttls: bool
    ssl: bool
    username: str | None
    password_file: Path | None
    sender: str
    to: tuple[str, ...]
    timeout_s: float = 20.0


@dataclass(frozen=True)
class WebhookConfig:
    """A JSON POST per notification, signed ``X-Commune-Radio-Signature: sha256=HEX``
    (HMAC-SHA256 of the body with the secret in ``secret_file``)."""

    url: str
    secret_file: Path
    timeout_s: float = 10.0


@dataclass(frozen=True)
class AlertsConfig:
    """Alert rules and channels. Durations in seconds; clock times local to the district."""

    enabled: bool = True
    language: str = "vi"
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None
    interval_s: float = 30.0
    offline_after_s: int = 900
    silence_after_s: int = 3600
    flap_count: int = 10
    flap_window_s: int = 3600
    week_at_risk_weekday: int = 3  # Monday = 0
    week_at_risk_at: time = time(12, 0)
    month_at_risk_days_before_end: int = 7
    month_at_risk_at: time = time(12, 0)
    quiet_from: time | None = None
    quiet_to: time | None = None
    digest_at: time | None = None
    remind_after_s: int | None = 21600
    schedule_apply_after_s: int = 3600
    slot_grace_s: int = 900
    dead_air_silent_s: float = 30.0
    dead_air_rms_dbfs: float = -50.0
    lookback_days: int = 7
    console_url: str | None = None
    channels: tuple[str, ...] = field(default=())


def read_secret_file(path: Path, key: str, source: str) -> str:
    """The secret in ``path`` (first line, stripped). ConfigError naming ``key`` when the file
    cannot be read, is readable by group or others, or is empty."""
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: {key}: cannot read {path}: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: {key}: {path} is not UTF-8 text"]) from exc
    if mode & 0o077:
        raise ConfigError([f"{source}: {key}: {path} is readable by others (mode {mode:o}); "
                           f"run chmod 600 {path}"])
    secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise ConfigError([f"{source}: {key}: {path} is empty"])
    return secret


def _clock(r: ConfigReader, m: dict[str, Any], section: str, name: str, default: str | None) -> time | None:
    value = r.get(m, section, name, str, default, pattern=_HHMM, nullable=True)
    if not isinstance(value, str) or not re.fullmatch(_HHMM, value):
        return None if value is None else time.fromisoformat(default) if default else None
    return time.fromisoformat(value)


def _read_email(r: ConfigReader, data: object, base: Path) -> EmailConfig | None:
    if data is None:
        return None
    m = r.mapping(data, "alerts.email", _EMAIL_KEYS)
    s = "alerts.email"
    host = r.get(m, s, "smtp_host", str)
    starttls = r.get(m, s, "starttls", bool, True)
    use_ssl = r.get(m, s, "ssl", bool, False)
    port = r.get(m, s, "smtp_port", int, 465 if use_ssl else 587, minimum=1, maximum=65535)
    username = r.get(m, s, "username", str, None, nullable=True)
    password_file = r.get(m, s, "password_file", str, None, nullable=True)
    sender = r.get(m, s, "from", str, pattern=_EMAIL)
    to = r.get(m, s, "to", list)
    timeout = r.get(m, s, "timeout_s", float, 20.0, minimum=1, maximum=600)
    recipients: list[str] = []
    for i, item in enumerate(to or []):
        if not isinstance(item, str) or not re.fullmatch(_EMAIL, item):
            r.error(f"{s}.to[{i}]", f"must be an e-mail address, got {item!r}")
        else:
            recipients.append(item)
    if to is not None and not to:
        r.error(f"{s}.to", "needs at least one address")
    if starttls and use_ssl:
        r.error(f"{s}.starttls", "starttls and ssl exclude each other (ssl: port 465, starttls: port 587)")
    if username and not password_file:
        r.error(f"{s}.password_file", "username given without password_file")
    if not host or not sender or not recipients:
        return None
    return EmailConfig(smtp_host=host, smtp_port=port or 587, starttls=bool(starttls), ssl=bool(use_ssl),
                       username=username, password_file=config_path(base, password_file), sender=sender,
                       to=tuple(recipients), timeout_s=timeout or 20.0)


def _read_webhook(r: ConfigReader, data: object, base: Path) -> WebhookConfig | None:
    if data is None:
        return None
    m = r.mapping(data, "alerts.webhook", _WEBHOOK_KEYS)
    url = r.get(m, "alerts.webhook", "url", str, pattern=r"https?://[^\s]+")
    secret = r.get(m, "alerts.webhook", "secret_file", str)
    timeout = r.get(m, "alerts.webhook", "timeout_s", float, 10.0, minimum=1, maximum=600)
    if not url or not secret:
        return None
    return WebhookConfig(url=url, secret_file=config_path(base, secret) or Path(secret), timeout_s=timeout or 10.0)


def read_alerts_config(r: ConfigReader, data: object, base: Path) -> AlertsConfig | None:
    """The ``alerts:`` section (None when absent); problems go to ``r``."""
    if data is None:
        return None
    m = r.mapping(data, "alerts", _KEYS)
    s = "alerts"
    d = AlertsConfig()
    email = _read_email(r, m.get("email"), base)
    webhook = _read_webhook(r, m.get("webhook"), base)
    fl = r.mapping(m.get("flapping", {}), "alerts.flapping", ("count", "window_s"))
    wk = r.mapping(m.get("week_at_risk", {}), "alerts.week_at_risk", ("weekday", "at"))
    mo = r.mapping(m.get("month_at_risk", {}), "alerts.month_at_risk", ("days_before_end", "at"))
    qh = r.mapping(m.get("quiet_hours", {}) or {}, "alerts.quiet_hours", ("from", "to"))
    da = r.mapping(m.get("dead_air", {}), "alerts.dead_air", ("silent_s", "rms_dbfs"))
    weekday = r.get(wk, "alerts.week_at_risk", "weekday", str, "thursday", choices=_WEEKDAYS)
    quiet_from = _clock(r, qh, "alerts.quiet_hours", "from", None)
    quiet_to = _clock(r, qh, "alerts.quiet_hours", "to", None)
    if (quiet_from is None) != (quiet_to is None):
        r.error("alerts.quiet_hours", "needs both from and to")
    remind = r.get(m, s, "remind_after_s", int, d.remind_after_s, minimum=60, nullable=True)
    language = r.get(m, s, "language", str, "vi", choices=("vi", "en"))
    return AlertsConfig(
        enabled=bool(r.get(m, s, "enabled", bool, True)),
        language=language if language in ("vi", "en") else "vi",
        email=email, webhook=webhook,
        interval_s=r.get(m, s, "interval_s", float, d.interval_s, minimum=0.2, maximum=3600) or d.interval_s,
        offline_after_s=r.get(m, s, "offline_after_s", int, d.offline_after_s, minimum=1, maximum=30 * 86400)
        or d.offline_after_s,
        silence_after_s=r.get(m, s, "silence_after_s", int, d.silence_after_s, minimum=60, maximum=30 * 86400)
        or d.silence_after_s,
        flap_count=r.get(fl, "alerts.flapping", "count", int, d.flap_count, minimum=2, maximum=1000) or d.flap_count,
        flap_window_s=r.get(fl, "alerts.flapping", "window_s", int, d.flap_window_s, minimum=60, maximum=86400)
        or d.flap_window_s,
        week_at_risk_weekday=_WEEKDAYS.index(weekday) if weekday in _WEEKDAYS else d.week_at_risk_weekday,
        week_at_risk_at=_clock(r, wk, "alerts.week_at_risk", "at", "12:00") or d.week_at_risk_at,
        month_at_risk_days_before_end=r.get(mo, "alerts.month_at_risk", "days_before_end", int, 7, minimum=0,
                                            maximum=27) or 0,
        month_at_risk_at=_clock(r, mo, "alerts.month_at_risk", "at", "12:00") or d.month_at_risk_at,
        quiet_from=quiet_from if quiet_to is not None else None,
        quiet_to=quiet_to if quiet_from is not None else None,
        digest_at=_clock(r, m, s, "digest_at", None),
        remind_after_s=remind,
        schedule_apply_after_s=r.get(m, s, "schedule_apply_after_s", int, d.schedule_apply_after_s, minimum=60)
        or d.schedule_apply_after_s,
        slot_grace_s=r.get(m, s, "slot_grace_s", int, d.slot_grace_s, minimum=0, maximum=86400) or 0,
        dead_air_silent_s=r.get(da, "alerts.dead_air", "silent_s", float, d.dead_air_silent_s, minimum=0)
        or d.dead_air_silent_s,
        dead_air_rms_dbfs=r.get(da, "alerts.dead_air", "rms_dbfs", float, d.dead_air_rms_dbfs, maximum=0)
        or d.dead_air_rms_dbfs,
        lookback_days=r.get(m, s, "lookback_days", int, d.lookback_days, minimum=1, maximum=60) or d.lookback_days,
        console_url=r.get(m, s, "console_url", str, None, pattern=r"https?://[^\s]+", nullable=True),
        channels=tuple(name for name, c in (("email", email), ("webhook", webhook)) if c is not None),
    )
