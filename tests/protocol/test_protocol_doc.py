"""docs/protocol.md is true: every JSON example parses with radio_protocol, round-trips
through its builder, and what our Signer signs verifies with a stock JOSE library."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws

from radio_protocol.jose import KeyRing, Signer, jwk_thumbprint, jwk_to_public_key, verify
from radio_protocol.messages.ack import build_ack, parse_ack
from radio_protocol.messages.event import build_event, parse_event
from radio_protocol.messages.outbox_reset import build_outbox_reset, parse_outbox_reset
from radio_protocol.messages.status import build_status, parse_status
from radio_protocol.names import ACK_TYP, MANIFEST_TYP, TOPIC_TYPS, TYP_BY_KIND
from radio_protocol.schedule.build import build_schedule
from radio_protocol.schedule.parse import parse_schedule

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
EXAMPLE_KEY_SEED = b"commune-radio docs/protocol.md example key"

# message type -> (topic kind, parser, builder)
MESSAGES: dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], dict[str, Any]]]] = {
    "airing": ("event", parse_event, build_event),
    "outbox-reset": ("event", parse_outbox_reset, build_outbox_reset),
    "status": ("status", parse_status, build_status),
    "schedule": ("schedule", parse_schedule, build_schedule),
    "ack": ("ack", parse_ack, build_ack),
}


def examples() -> list[dict[str, Any]]:
    """Every ```json block of the document, decoded."""
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def kind_of(example: dict[str, Any]) -> str:
    if example.get("type") in MESSAGES:
        return str(example["type"])
    if example.get("type") == "evidence-manifest":
        return "manifest"
    if set(example) == {"protected", "payload", "signature"}:
        return "jws"
    if "kty" in example:
        return "jwk"
    if "alg" in example:
        return "header"
    if set(example) == {"district", "stations"}:
        return "keys"
    return "unknown"


def message_examples() -> list[dict[str, Any]]:
    return [e for e in examples() if kind_of(e) in MESSAGES]


def doc_jwk() -> dict[str, str]:
    (jwk,) = [e for e in examples() if kind_of(e) == "jwk"]
    return jwk


def test_protocol_doc_every_example_is_known_and_every_message_has_one() -> None:
    kinds = [kind_of(e) for e in examples()]
    assert "unknown" not in kinds
    assert set(MESSAGES) <= set(kinds)
    assert {"jws", "jwk", "header", "keys", "manifest"} <= set(kinds)


@pytest.mark.parametrize("example", message_examples(), ids=lambda e: str(e["type"]))
def test_protocol_doc_message_parses_and_round_trips(example: dict[str, Any]) -> None:
    _, parse, build = MESSAGES[example["type"]]
    model = parse(example)
    built = build(model)
    assert built == example  # the example is exactly what our builder writes
    assert parse(built) == model
    assert list(built) == list(example)  # member order as documented


@pytest.mark.parametrize("example", message_examples(), ids=lambda e: str(e["type"]))
def test_protocol_doc_signed_example_verifies_with_jwcrypto(example: dict[str, Any]) -> None:
    """What an auditor's stock library sees: flattened JWS, EdDSA, kid = thumbprint."""
    kind, parse, build = MESSAGES[example["type"]]
    typ = TYP_BY_KIND[kind]
    signer = Signer(Ed25519PrivateKey.generate())
    raw = signer.sign(build(parse(example)), typ)
    public = jw_jwk.JWK(**signer.public_jwk)  # the public JWK only
    token = jw_jws.JWS()
    token.deserialize(raw.decode("utf-8"))
    token.verify(public)
    assert token.jose_header == {"alg": "EdDSA", "kid": signer.kid, "typ": typ}
    assert json.loads(token.payload) == example
    assert public.thumbprint() == signer.kid  # RFC 7638, as jwcrypto computes it
    ours = verify(raw, KeyRing.from_jwks([signer.public_jwk]), typ)
    assert ours.payload_bytes == token.payload and parse(ours.payload) == parse(example)


def test_protocol_doc_jwk_and_header_agree() -> None:
    jwk = doc_jwk()
    jwk_to_public_key(jwk)
    kid = jwk_thumbprint(jwk)
    assert kid in DOC.read_text(encoding="utf-8")
    (header,) = [e for e in examples() if kind_of(e) == "header"]
    assert header["alg"] == "EdDSA" and header["kid"] == kid and header["typ"] in TOPIC_TYPS
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(EXAMPLE_KEY_SEED).digest())
    assert Signer(key).public_jwk == jwk  # the documented key is the seeded example key


def test_protocol_doc_jws_example_verifies_with_the_documented_key() -> None:
    (raw,) = [e for e in examples() if kind_of(e) == "jws"]
    text = json.dumps(raw)
    jwk = doc_jwk()
    ours = verify(text, KeyRing.from_jwks([jwk]), ACK_TYP)
    (ack,) = [e for e in examples() if e.get("type") == "ack"]
    assert ours.payload == ack and parse_ack(ours.payload, "dak-koi-01").through == 40
    token = jw_jws.JWS()
    token.deserialize(text)
    token.verify(jw_jwk.JWK(**jwk))
    assert json.loads(token.payload) == ack


def test_protocol_doc_keys_and_manifest_examples_are_consistent() -> None:
    (keys,) = [e for e in examples() if kind_of(e) == "keys"]
    assert keys["district"]["keys"] == [doc_jwk()]
    for station in keys["stations"]:
        assert station["level"] in ("commune", "district") and station["district"] == keys["district"]["id"]
        for jwk in station["keys"]:
            jwk_to_public_key(jwk)
    (manifest,) = [e for e in examples() if kind_of(e) == "manifest"]
    assert manifest["district_key"] == jwk_thumbprint(doc_jwk())
    assert {"period", "generated_at", "generator", "counts", "files"} <= set(manifest)
    assert MANIFEST_TYP in DOC.read_text(encoding="utf-8")


def test_protocol_doc_lists_every_typ() -> None:
    text = DOC.read_text(encoding="utf-8")
    for typ in (*TOPIC_TYPS, MANIFEST_TYP):
        assert f"`{typ}`" in text
