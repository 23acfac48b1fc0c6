"""District acks as the station reads them (PROTOCOL.md, "Delivery rule").

An ack is a JWS of ``typ cr-ack+json`` signed by one of the pinned district keys, naming
this station, with ``through`` (every seq up to it is stored) and ``also`` (single seqs
stored past a gap). :func:`read_ack` verifies and parses one; anything else raises
:class:`~radio_protocol.errors.JoseError` or :class:`AckError`, and the link then changes
nothing. :func:`within_recorded` keeps an ack from covering seqs the station never recorded.
"""

from __future__ import annotations

from typing import Any

from radio_protocol.jose import KeyRing, verify

ACK_TYP = "cr-ack+json"
MAX_ACK_ALSO = 100_000


class AckError(ValueError):
    """An ack that verified but does not say something this station can apply."""


def parse_ack(payload: dict[str, Any], station: str) -> tuple[int, list[int]]:
    """``(through, also)`` from a verified ack payload for ``station``; raises AckError."""
    if payload.get("type") != "ack":
        raise AckError(f"type {payload.get('type')!r} is not ack")
    if payload.get("station") != station:
        raise AckError(f"ack names station {payload.get('station')!r}, not ours")
    through = payload.get("through", 0)
    if not isinstance(through, int) or isinstance(through, bool) or through < 0:
        raise AckError(f"through must be an integer >= 0, got {through!r}")
    also = payload.get("also", [])
    if not isinstance(also, list) or len(also) > MAX_ACK_ALSO:
        raise AckError("also must be a list of seqs")
    for seq in also:
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise AckError(f"also holds a bad seq {seq!r}")
    return through, sorted(set(also))


def read_ack(raw: bytes, keys: KeyRing, station: str) -> tuple[int, list[int]]:
    """Verify ``raw`` with the district ``keys`` and parse it for ``station``.

    Returns ``(through, also)`` with ``also`` sorted and unique; raises JoseError (bad
    signature, unknown key, wrong ``typ``, malformed) or AckError (says nothing for us).
    """
    verified = verify(raw, keys, ACK_TYP)
    return parse_ack(verified.payload, station)


def within_recorded(through: int, also: list[int], last_seq: int) -> tuple[int, list[int]] | None:
    """The ack cut down to seqs <= ``last_seq``; None when it already was within them.

    An ack for seqs this station has not recorded (e.g. an outbox replaced after an SD card
    failure) must never cover events it records later.
    """
    if through <= last_seq and not (also and also[-1] > last_seq):
        return None
    return min(through, last_seq), [seq for seq in also if seq <= last_seq]
