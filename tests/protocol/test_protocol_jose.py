"""radio_protocol.jose: flattened EdDSA JWS, JWK thumbprints, key files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws

from radio_protocol.errors import JoseError, KeyFileError
from radio_protocol.jose import (
    KeyRing,
    Signer,
    b64url_decode,
    b64url_encode,
    canonical_json,
    jwk_thumbprint,
    load_or_create_private_key,
    load_private_key,
    verify,
)
from radio_protocol.names import ACK_TYP, EVENT_TYP


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def test_jose_rfc8037_thumbprint_vector() -> None:
    # RFC 8037 appendix A.3: thumbprint of the example Ed25519 key.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_jose_rfc8037_signature_vector() -> None:
    # RFC 8037 appendix A.4: Ed25519 signing is deterministic; our bytes must match.
    d = b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    key = Ed25519PrivateKey.from_private_bytes(d)
    protected = b64url_encode(b'{"alg":"EdDSA"}')
    payload = b64url_encode(b"Example of Ed25519 signing")
    sig = key.sign(f"{protected}.{payload}".encode())
    assert b64url_encode(sig) == (
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )


def test_jose_sign_is_flattened_and_verifies_with_jwcrypto(signer: Signer) -> None:
    payload = {"v": 1, "title": "Chuyển đổi số là gì?"}
    jws = signer.sign(payload, EVENT_TYP)
    obj = json.loads(jws)
    assert set(obj) == {"protected", "payload", "signature"}
    assert all("=" not in v for v in obj.values())
    header = json.loads(b64url_decode(obj["protected"]))
    assert header == {"alg": "EdDSA", "kid": signer.kid, "typ": "cr-event+json"}
    token = jw_jws.JWS()
    token.deserialize(jws.decode())
    token.verify(jw_jwk.JWK(**signer.public_jwk))
    assert json.loads(token.payload) == payload
    assert jw_jwk.JWK(**signer.public_jwk).thumbprint() == signer.kid


def test_jose_verify_returns_exact_payload_bytes(signer: Signer) -> None:
    raw = b'{"b":1, "a":"\\u0110"}'  # odd spacing and escapes must survive untouched
    v = verify(signer.sign(raw, ACK_TYP), KeyRing.from_jwks([signer.public_jwk]), ACK_TYP)
    assert v.payload_bytes == raw
    assert v.payload == {"b": 1, "a": "Đ"}
    assert v.kid == signer.kid


def _tamper(jws: bytes, member: str, value: str) -> bytes:
    obj = json.loads(jws)
    obj[member] = value
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda j, s: j[:-3], "bad-json"),
        (lambda j, s: _tamper(j, "payload", "***"), "bad-base64"),
        (lambda j, s: _tamper(j, "protected", b64url_encode(b'{"alg":"none","kid":"%s","typ":"cr-event+json"}' % s.kid.encode())), "alg"),
        (lambda j, s: _tamper(j, "protected", b64url_encode(b'{"alg":"HS256","kid":"%s","typ":"cr-event+json"}' % s.kid.encode())), "alg"),
        (lambda j, s: _tamper(j, "payload", b64url_encode(b'{"v":2}')), "bad-signature"),
        (lambda j, s: b" " * 70000, "too-large"),
    ],
)
def test_jose_verify_rejects(signer: Signer, mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    jws = signer.sign({"v": 1}, EVENT_TYP)
    with pytest.raises(JoseError) as info:
        verify(mutate(jws, signer), KeyRing.from_jwks([signer.public_jwk]), EVENT_TYP)
    assert info.value.reason == reason


def test_jose_verify_unknown_kid_and_wrong_typ(signer: Signer) -> None:
    other = Signer(Ed25519PrivateKey.generate())
    jws = signer.sign({"v": 1}, EVENT_TYP)
    with pytest.raises(JoseError) as info:
        verify(jws, KeyRing.from_jwks([other.public_jwk]), EVENT_TYP)
    assert info.value.reason == "unknown-kid"
    with pytest.raises(JoseError) as info:
        verify(jws, KeyRing.from_jwks([signer.public_jwk]), ACK_TYP)
    assert info.value.reason == "typ"


def test_jose_key_file_created_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "station.key"
    key, created = load_or_create_private_key(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = load_or_create_private_key(path)
    assert not created_again
    assert Signer(again).kid == Signer(key).kid
    assert "PRIVATE" not in repr(Signer(key))


def test_jose_key_file_world_readable_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    load_or_create_private_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_private_key(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_jose_canonical_json_refuses_what_is_not_json(signer: Signer, value: float) -> None:
    """NaN and Infinity are not JSON: signed, they would be evidence no verifier accepts."""
    with pytest.raises(ValueError):
        canonical_json({"v": 1, "played_s": value})
    with pytest.raises(ValueError):
        signer.sign({"v": 1, "played_s": value}, EVENT_TYP)
