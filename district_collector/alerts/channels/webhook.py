"""Webhook: one JSON POST per notification (urllib), signed with HMAC-SHA256.

Header ``X-Commune-Radio-Signature: sha256=HEX`` where HEX = HMAC-SHA256(secret, body);
the receiver recomputes it over the raw body. Success is any 2xx answer; anything else
(a 500, a refused connection, a timeout) is a :class:`ChannelError` and the notification
stays queued.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request

from district_collector.alerts.channels.base import Channel, ChannelError
from district_collector.alerts.config import WebhookConfig, read_secret_file
from district_collector.alerts.model import Notification
from district_collector.alerts.render import webhook_body

SIGNATURE_HEADER = "X-Commune-Radio-Signature"


def signature(secret: bytes, body: bytes) -> str:
    """The header value for ``body``: ``sha256=`` + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, config: WebhookConfig, console_url: str | None, source: str) -> None:
        self.config = config
        self.console_url = console_url
        self._secret = read_secret_file(config.secret_file, "alerts.webhook.secret_file", source).encode("utf-8")

    def send(self, notification: Notification) -> None:
        body = webhook_body(notification, self.console_url)
        request = urllib.request.Request(self.config.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: signature(self._secret, body),
            "X-Commune-Radio-Delivery": str(notification.id), "User-Agent": "commune-radio-alerts"})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"webhook answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChannelError(f"webhook unreachable: {reason}") from exc
        if not 200 <= status < 300:
            raise ChannelError(f"webhook answered HTTP {status}")
