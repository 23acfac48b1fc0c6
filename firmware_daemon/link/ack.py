"""District acks as the station reads them (docs/protocol.md, "Delivery rule").

An ack is a JWS of ``typ cr-ack+json`` signed by one of the pinned district keys, naming
this station. :func:`read_ack` verifies one and parses it with
:func:`radio_protocol.messages.ack.parse_ack`; anything else raises
:class:`~radio_protocol.errors.JoseError` or :class:`~radio_protocol.errors.AckError`, and
the link then changes nothing.
"""

from __future__ import annotations

from typing import Any

from radio_protocol.errors import AckError
from radio_protocol.jose import KeyRing, verify
from radio_protocol.messages.ack import MAX_ACK_ALSO, within_recorded
from radio_protocol.messages.ack import parse_ack as parse_ack_message
from radio_protocol.names import ACK_TYP

__all__ = ["ACK_TYP", "MAX_ACK_ALSO", "AckError", "parse_ack", "read_ack", "within_recorded"]


def parse_ack(payload: dict[str, Any], station: str) -> tuple[int, list[int]]:
    """``(through, also)`` from a verified ack payload for ``station``; raises AckError."""
    ack = parse_ack_message(payload, station)
    return ack.through, list(ack.also)


def read_ack(raw: bytes, keys: KeyRing, station: str) -> tuple[int, list[int]]:
    """Verify ``raw`` with the district ``keys`` and parse it for ``station``.

    Returns ``(through, also)`` with ``also`` sorted and unique; raises JoseError (bad
    signature, unknown key, wrong ``typ``, malformed) or AckError (says nothing for us).
    """
    verified = verify(raw, keys, ACK_TYP)
    return parse_ack(verified.payload, station)
