"""Builders shared by the scoring and evidence tests: real keys, real signed events.

Imported by ``tests/test_scoring_*.py`` and ``tests/test_evidence_*.py``; holds no tests.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from district_collector.registry import Registry
from district_collector.scoring.compute import EventFacts, facts_from_payload
from radio_protocol.jose import Signer, canonical_json, parse_jws, sha256_hex
from radio_protocol.messages.event import AiringEvent, Amp, Level, Segment, build_event
from radio_protocol.names import EVENT_TYP
from radio_protocol.timefmt import parse_rfc3339

DISTRICT = "kon-ray"
TZ = "Asia/Ho_Chi_Minh"


class StationSigner:
    """A station that signs a chained sequence of airing events, as the daemon would."""

    def __init__(self, station: str, commune: str = "23335", key: Ed25519PrivateKey | None = None) -> None:
        self.station = station
        self.commune = commune
        self.key = key or Ed25519PrivateKey.generate()
        self.signer = Signer(self.key)
        self.seq = 0
        self.prev: str | None = None

    @property
    def jwk(self) -> dict[str, str]:
        return self.signer.public_jwk

    def payload(self, started_at: str, *, seq: int | None = None, prev: Any = "chain",
                program: str = "chuyen-doi-so", outcome: str = "completed", clock_synced: bool = True,
                slot: str | None = None, title: str = "Chuyển đổi số là gì?", **extra: Any) -> dict[str, Any]:
        """The built payload of the next event (or ``seq``); ``prev`` "chain" chains to the last.

        ``started_at`` and ``slot`` stay as given ("as signed": a station may stamp ``Z``, as
        docs/scoring.md's example does, which this project's builder never writes); ``extra``
        adds members.
        """
        at = parse_rfc3339(started_at)
        event = AiringEvent(
            district=DISTRICT, station=self.station, commune=self.commune,
            seq=seq if seq is not None else self.seq + 1, prev=self.prev if prev == "chain" else prev,
            segment=Segment("cds-a", title, program, topic="policy", sha256="0" * 64), priority="normal",
            schedule_version=1 if slot else None, slot_at=parse_rfc3339(slot) if slot else None,
            started_at=at, ended_at=at, played_s=300.0, media_s=300.0, outcome=outcome,
            reason=None if outcome == "completed" else "preempted", amp=Amp(at, at, None),
            level=Level(-18.0, -1.0, 0.0), clock_synced=clock_synced, boot_id="boot-1", sw="0.1.0",
        )
        return {**build_event(event), "slot": slot, "started_at": started_at, **extra}

    def airing(self, started_at: str, **kw: Any) -> bytes:
        """Sign the next event (or the given seq); the chain advances to it."""
        payload = self.payload(started_at, **kw)
        body = canonical_json(payload)
        self.seq = payload["seq"]
        self.prev = sha256_hex(body)
        return self.signer.sign(body, EVENT_TYP)


def facts_of(jws: bytes, signature_ok: bool = True) -> EventFacts:
    _header, _members, body = parse_jws(jws)
    return facts_from_payload(json.loads(body), sha256_hex(body), signature_ok)


def registry_of(*stations: StationSigner, district_key: Ed25519PrivateKey | None = None,
                levels: dict[str, str] | None = None, names: dict[str, str] | None = None) -> Registry:
    levels = levels or {}
    names = names or {}
    dkeys = [Signer(district_key).public_jwk] if district_key else []
    return Registry.build(
        DISTRICT, "Huyện Kon Rẫy", TZ, dkeys,
        [(s.station, s.commune, names.get(s.commune, f"Xã {s.commune}"), levels.get(s.station, "commune"),
          [s.jwk]) for s in stations],
    )


def schedule_payload(station: str, version: int, valid_from: str, valid_until: str,
                     slots: list[dict[str, Any]], program: str = "chuyen-doi-so") -> dict[str, Any]:
    return {
        "v": 1, "type": "schedule", "district": DISTRICT, "station": station, "version": version,
        "issued_at": f"{valid_from}T00:00:00.000+07:00", "valid_from": valid_from,
        "valid_until": valid_until, "timezone": TZ,
        "segments": [
            {"id": "cds-a", "title": "Chuyển đổi số", "program": program, "topic": "policy",
             "priority": "normal", "media": {"sha256": "0" * 64, "url": "https://d.example/m/a.mp3",
                                             "bytes": 1000, "duration_s": 300.0}},
            {"id": "news", "title": "Tin tức", "program": "tin-tuc", "priority": "normal",
             "media": {"sha256": "1" * 64, "url": "https://d.example/m/n.mp3", "bytes": 1000,
                       "duration_s": 300.0}},
        ],
        "slots": slots,
    }
