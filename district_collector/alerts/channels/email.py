"""E-mail through an SMTP relay (smtplib): STARTTLS (port 587) or TLS at once (465) or plain.

The password is read from ``password_file`` (mode 0600) when the channel is built and never
logged. Each message has a Message-ID derived from the notification id, so a receiving
system can tell a re-delivery (after a crash between sending and recording) from a new one.
"""

from __future__ import annotations

import smtplib
import ssl
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

from district_collector.alerts.channels.base import Channel, ChannelError
from district_collector.alerts.config import EmailConfig, read_secret_file
from district_collector.alerts.model import Notification
from district_collector.alerts.render import render_mail


class EmailChannel(Channel):
    name = "email"

    def __init__(self, config: EmailConfig, lang: str, tz: ZoneInfo, district: str, console_url: str | None,
                 source: str) -> None:
        self.config = config
        self.lang, self.tz, self.district, self.console_url = lang, tz, district, console_url
        self._password = (read_secret_file(config.password_file, "alerts.email.password_file", source)
                          if config.password_file is not None else None)

    def message(self, n: Notification) -> MIMEText:
        """The MIME message (UTF-8 body; the subject as RFC 2047 words split inside the text,
        which keeps its spaces: the modern header folder of Python 3.11 drops some)."""
        mail = render_mail(n, self.lang, self.tz, self.district, self.console_url)
        msg = MIMEText(mail.body, "plain", "utf-8")
        msg["Subject"] = Header(mail.subject, "utf-8")  # type: ignore[assignment]
        msg["From"] = self.config.sender
        msg["To"] = ", ".join(self.config.to)
        msg["Date"] = formatdate(localtime=False)
        domain = self.config.sender.rsplit("@", 1)[-1]
        msg["Message-ID"] = make_msgid(idstring=f"commune-radio-{n.id}", domain=domain) if n.id else make_msgid(
            domain=domain)
        msg["X-Commune-Radio-Notification"] = str(n.id)
        msg["X-Commune-Radio-Kind"] = str(n.payload.get("kind") or n.transition)  # for mail filters
        return msg

    def send(self, notification: Notification) -> None:
        c = self.config
        msg = self.message(notification)
        try:
            smtp: smtplib.SMTP
            if c.ssl:
                smtp = smtplib.SMTP_SSL(c.smtp_host, c.smtp_port, timeout=c.timeout_s,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout_s)
            with smtp:
                if c.starttls and not c.ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if c.username and self._password is not None:
                    smtp.login(c.username, self._password)
                refused = smtp.send_message(msg)
            if refused:
                raise ChannelError(f"smtp refused recipients: {', '.join(sorted(refused))}")
        except ChannelError:
            raise
        except smtplib.SMTPException as exc:
            raise ChannelError(f"smtp {c.smtp_host}:{c.smtp_port}: {type(exc).__name__}: {exc}") from exc
        except (TimeoutError, OSError) as exc:
            raise ChannelError(f"smtp {c.smtp_host}:{c.smtp_port} unreachable: {exc}") from exc
