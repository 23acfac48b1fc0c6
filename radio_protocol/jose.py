"""Flattened JWS (RFC 7515 7.2.2) with EdDSA/Ed25519 (RFC 8037), JWK thumbprints (RFC 7638).

Only what docs/protocol.md allows: ``alg`` EdDSA, keys looked up by ``kid`` among the
keys registered for the claimed sender, ``typ`` checked against the topic. The
payload bytes, as signed, are the evidence: :func:`verify` returns them untouched.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from radio_protocol.durable import atomic_write, ensure_private_dir
from radio_protocol.errors import JoseError, KeyFileError
from radio_protocol.jsonlimits import JsonLimitError, loads_bounded
from radio_protocol.names import MANIFEST_TYP, MAX_JWS_BYTES, SIGNABLE_TYPS, TOPIC_TYPS

# Re-exported: importers of these names from here predate radio_protocol.names.
__all__ = [
    "MANIFEST_TYP", "MAX_JWS_BYTES", "SIGNABLE_TYPS", "TYPS", "KeyRing", "Signer", "Verified",
    "b64url_decode", "b64url_encode", "canonical_json", "decode_payload", "file_sha256", "jwk_thumbprint",
    "jwk_to_public_key", "load_or_create_private_key", "load_private_key", "parse_jws",
    "public_jwk", "sha256_hex", "verify",
]

TYPS = TOPIC_TYPS


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding; raises JoseError(bad-base64)."""
    if not isinstance(text, str) or "=" in text:
        raise JoseError("bad-base64", "expected unpadded base64url text")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JoseError("bad-base64", str(exc)) from exc
    if b64url_encode(raw) != text:
        raise JoseError("bad-base64", "non-canonical base64url")
    return raw


def canonical_json(obj: Any) -> bytes:
    """The bytes we sign for a payload we create (compact, UTF-8, key order kept).

    Raises ValueError for NaN or Infinity: they are not JSON (RFC 8259), every reader
    refuses them, so signing them would make evidence no verifier accepts."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The SHA-256 (hex) of a file's bytes, read in ``chunk``-byte pieces. Raises OSError.

    The hash that names media in schedules and events (docs/protocol.md ``sha256``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


# --- JWK -------------------------------------------------------------------------------


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def jwk_to_public_key(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """An Ed25519 public key from a JWK; raises JoseError(bad-jwk) with what is wrong."""
    if not isinstance(jwk, Mapping):
        raise JoseError("bad-jwk", "a JWK must be an object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise JoseError("bad-jwk", "expected kty OKP and crv Ed25519")
    if "d" in jwk:
        raise JoseError("bad-jwk", "a private key (member d) was given where a public JWK belongs")
    x = b64url_decode(str(jwk.get("x", "")))
    if len(x) != 32:
        raise JoseError("bad-jwk", "x must be 32 bytes")
    return Ed25519PublicKey.from_public_bytes(x)


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an OKP public JWK."""
    members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    data = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return b64url_encode(hashlib.sha256(data).digest())


@dataclass(frozen=True)
class KeyRing:
    """Public keys by ``kid`` (thumbprint). Build with :meth:`from_jwks`."""

    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)

    @classmethod
    def from_jwks(cls, jwks: Iterable[Mapping[str, Any]]) -> KeyRing:
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in jwks:
            key = jwk_to_public_key(jwk)  # first: it says what is wrong with a bad JWK
            keys[jwk_thumbprint(jwk)] = key
        return cls(keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self.keys

    def __len__(self) -> int:
        return len(self.keys)


# --- private keys ----------------------------------------------------------------------


def _check_private_mode(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: private key is readable by others (mode {mode:o}); run chmod 600 {path}"
        )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load an Ed25519 private key (PKCS#8 PEM) that must be mode 0600 or stricter."""
    path = Path(path)
    try:
        _check_private_mode(path)
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: no key file (run keygen)") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key


def load_or_create_private_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The key at ``path``, creating it (file 0600, directory 0700) if absent.

    Returns ``(key, created)``. Never overwrites an existing key.
    """
    path = Path(path)
    if path.exists():
        return load_private_key(path), False
    ensure_private_dir(path.parent)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    old_umask = os.umask(0o077)
    try:
        atomic_write(path, pem, mode=0o600)
    finally:
        os.umask(old_umask)
    return key, True


# --- signing and verifying -------------------------------------------------------------


class Signer:
    """Signs payloads as flattened JWS with one Ed25519 key. The key is never logged."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_jwk = public_jwk(key.public_key())
        self.kid = jwk_thumbprint(self.public_jwk)

    def __repr__(self) -> str:  # never show key material
        return f"Signer(kid={self.kid})"

    def sign(self, payload: bytes | Mapping[str, Any], typ: str) -> bytes:
        """The JWS JSON bytes for ``payload`` (bytes are signed as given)."""
        if typ not in SIGNABLE_TYPS:
            raise ValueError(f"unknown typ {typ!r}")
        payload_bytes = payload if isinstance(payload, bytes) else canonical_json(payload)
        header = canonical_json({"alg": "EdDSA", "kid": self.kid, "typ": typ})
        protected = b64url_encode(header)
        encoded_payload = b64url_encode(payload_bytes)
        signature = self._key.sign(f"{protected}.{encoded_payload}".encode("ascii"))
        jws = {"protected": protected, "payload": encoded_payload, "signature": b64url_encode(signature)}
        return canonical_json(jws)


@dataclass(frozen=True)
class Verified:
    """A JWS that verified: the payload bytes exactly as signed, and its parsed form."""

    jws: bytes
    payload_bytes: bytes
    payload: dict[str, Any]
    kid: str
    typ: str


def parse_jws(jws: bytes | str, max_bytes: int = MAX_JWS_BYTES) -> tuple[dict[str, Any], dict[str, str], bytes]:
    """Parse without verifying: ``(header, jws_members, payload_bytes)``; raises JoseError.

    Size and nesting are checked before any JSON is decoded (docs/protocol.md, "Bounds"):
    a JWS over ``max_bytes`` is ``too-large``, one nested deeper than ``MAX_JSON_DEPTH``
    (or with NaN/Infinity) ``bad-json``; the header likewise. The payload is not decoded
    here (:func:`decode_payload` does, within the same bounds).
    """
    raw = jws.encode("utf-8", "surrogatepass") if isinstance(jws, str) else bytes(jws)
    if len(raw) > max_bytes:
        raise JoseError("too-large", f"{len(raw)} bytes, limit {max_bytes}")
    try:
        obj = loads_bounded(raw)
    except JsonLimitError as exc:
        raise JoseError("bad-json", str(exc)) from exc
    except ValueError as exc:
        raise JoseError("bad-json", "not a UTF-8 JSON object") from exc
    if not isinstance(obj, dict) or set(obj) != {"protected", "payload", "signature"}:
        raise JoseError("bad-json", "expected exactly protected, payload, signature")
    if not all(isinstance(v, str) for v in obj.values()):
        raise JoseError("bad-json", "JWS members must be strings")
    header = dict(_protected_header(obj["protected"]))
    payload_bytes = b64url_decode(obj["payload"])
    return header, obj, payload_bytes


@functools.lru_cache(maxsize=4096)
def _protected_header(protected: str) -> Mapping[str, Any]:
    """The decoded protected header. Cached: a station signs every event with the same
    header (``alg``, ``typ``, ``kid``), so the collector decodes each one once; callers
    get a copy. Errors are raised, not cached."""
    try:
        header = loads_bounded(b64url_decode(protected))
    except JoseError:
        raise
    except ValueError as exc:
        raise JoseError("bad-json", f"protected header is not JSON: {exc}"[:200]) from exc
    if not isinstance(header, dict):
        raise JoseError("bad-json", "protected header is not an object")
    return header


def verify(
    jws: bytes | str,
    keys: KeyRing,
    expected_typ: str | None,
    max_bytes: int = MAX_JWS_BYTES,
) -> Verified:
    """Verify a flattened JWS against ``keys``; raise JoseError with a reason code.

    Checks, in order: size, JSON shape, ``alg == EdDSA``, ``typ`` (when expected),
    ``kid`` known, signature, payload is a UTF-8 JSON object.
    """
    header, members, payload_bytes = parse_jws(jws, max_bytes)
    if header.get("alg") != "EdDSA":
        raise JoseError("alg", f"alg {header.get('alg')!r} is not accepted (EdDSA only)")
    if "crit" in header:
        raise JoseError("alg", "crit header parameters are not supported")
    typ = header.get("typ")
    if expected_typ is not None and typ != expected_typ:
        raise JoseError("typ", f"typ {typ!r}, expected {expected_typ!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise JoseError("unknown-kid", f"kid {kid!r} is not registered for this sender")
    signature = b64url_decode(members["signature"])
    signing_input = f"{members['protected']}.{members['payload']}".encode("ascii")
    try:
        keys.keys[kid].verify(signature, signing_input)
    except InvalidSignature as exc:
        raise JoseError("bad-signature", "signature does not verify") from exc
    payload = decode_payload(payload_bytes)
    raw = jws.encode("utf-8", "surrogatepass") if isinstance(jws, str) else bytes(jws)
    return Verified(raw, payload_bytes, payload, kid, str(typ))


def decode_payload(payload_bytes: bytes) -> dict[str, Any]:
    """The JSON object of a JWS payload, decoded within docs/protocol.md's bounds (nesting
    at most ``MAX_JSON_DEPTH``, no NaN/Infinity); raises JoseError(bad-payload)."""
    try:
        payload = loads_bounded(payload_bytes)
    except JsonLimitError as exc:
        raise JoseError("bad-payload", str(exc)) from exc
    except ValueError as exc:
        raise JoseError("bad-payload", "payload is not UTF-8 JSON") from exc
    if not isinstance(payload, dict):
        raise JoseError("bad-payload", "payload is not a JSON object")
    return payload
