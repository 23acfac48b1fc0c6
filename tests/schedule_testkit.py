"""Helpers shared by the tests/test_schedule_*.py files: payloads, signing, a media server."""

from __future__ import annotations

import copy
import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_daemon.config import MediaConfig
from radio_protocol.jose import Signer

LOCAL_MEDIA = MediaConfig(allow_local_hosts=True, timeout_s=5.0, deadline_s=30.0)
"""How the tests' caches fetch: their media servers run on 127.0.0.1, so they opt in."""

SHA_A = "a" * 64
SHA_B = "b" * 64


def segment(seg_id: str = "cds-a", priority: str = "normal", sha: str = SHA_A,
            url: str | None = None, duration_s: float = 1.0, size: int = 1000) -> dict[str, Any]:
    return {"id": seg_id, "title": "Chuyển đổi số là gì?", "program": "chuyen-doi-so",
            "topic": "policy", "priority": priority,
            "media": {"sha256": sha, "url": url or f"http://127.0.0.1:1/media/{sha}.wav",
                      "bytes": size, "duration_s": duration_s}}


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid schedule payload for station dak-koi-01 in March 2024 (override members)."""
    base: dict[str, Any] = {
        "v": 1, "type": "schedule", "district": "kon-ray", "station": "dak-koi-01",
        "version": 1, "issued_at": "2024-02-25T08:00:00.000+07:00",
        "valid_from": "2024-03-01", "valid_until": "2024-03-31",
        "timezone": "Asia/Ho_Chi_Minh",
        "segments": [segment()],
        "slots": [{"segment": "cds-a", "at": "2024-03-05T06:30:00+07:00"},
                  {"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU,FR",
                   "dtstart": "2024-03-01T17:00:00+07:00"}],
    }
    base.update(copy.deepcopy(overrides))
    return base


def new_signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def make_wav(path: Path, seconds: float = 0.5, samplerate: int = 8000, freq: float = 440.0) -> bytes:
    """Write a mono int16 sine WAV; return its bytes."""
    t = np.arange(int(seconds * samplerate)) / samplerate
    data = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    sf.write(str(path), data, samplerate, subtype="PCM_16")
    return path.read_bytes()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class MediaServer:
    """A local HTTP server serving ``files`` (URL path -> bytes), with Range support.

    ``cut_after`` (path -> n) makes the next GET of that path send only n bytes and drop
    the connection (a broken download). ``requests`` logs (path, Range header).
    """

    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    directory: Path | None = None  # also serve /media/<name> from this directory

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def media_server() -> Iterator[MediaServer]:
    state = MediaServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            data = state.files.get(self.path)
            if data is None and state.directory is not None and self.path.startswith("/media/"):
                candidate = state.directory / self.path[len("/media/"):]
                if "/" not in self.path[len("/media/"):] and candidate.is_file():
                    data = candidate.read_bytes()
            if data is None:
                self.send_error(404)
                return
            start = 0
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = state.cut_after.pop(self.path, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
