"""What a channel must do: deliver one notification, or raise :class:`ChannelError`."""

from __future__ import annotations

from abc import ABC, abstractmethod

from district_collector.alerts.model import AlertError, Notification


class ChannelError(AlertError):
    """A delivery failed (server refused, unreachable, non-2xx); the notification stays queued."""


class Channel(ABC):
    """One configured channel. ``name`` is the channel's name in the queue (``email``, ``webhook``)."""

    name: str

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` once; return only when the other side accepted it
        (SMTP: the server took the message; webhook: a 2xx answer). ChannelError otherwise."""
