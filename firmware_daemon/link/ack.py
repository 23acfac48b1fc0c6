"""District acks as the station reads them (docs/protocol.md, "Delivery rule").

An ack is a JWS of ``typ cr-ack+json`` signed by one of the pinned district keys, naming
this station. :func:`read_ack` verifies one and parses it with
:func:`radio_protocol.messages.ack.parse_ack`; anything else raises
:class:`~radio_protocol.errors.JoseError` or :class:`~radio_protocol.errors.AckError`, and
the link then changes nothing.
"""

from __future__ import annotations

from radio_protocol.jose import KeyRing, verify
from radio_protocol.messages.ack import Ack, parse_ack
from radio_protocol.names import ACK_TYP

__all__ = ["read_ack"]


def read_ack(raw: bytes, keys: KeyRing, station: str) -> Ack:
    """Verify ``raw`` with the district ``keys`` and parse it for ``station``.

    Returns the :class:`~radio_protocol.messages.ack.Ack` (``also`` sorted and unique);
    raises JoseError (bad signature, unknown key, wrong ``typ``, malformed) or AckError
    (not an ack, or not for ``station``).
    """
    return parse_ack(verify(raw, keys, ACK_TYP).payload, station)
