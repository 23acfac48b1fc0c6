"""Delivery channels: :class:`~district_collector.alerts.channels.base.Channel` and its
e-mail (smtplib) and webhook (urllib POST, HMAC-signed) implementations."""
