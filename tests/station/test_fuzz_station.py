"""Fuzz targets of what the station reads from outside (tests/fuzzkit.py).

Signed schedules offered to the real :class:`ScheduleStore` (``offer`` never raises), the
media file header probe (``hal.media.probe``: only MediaError) and HTTP responses as the
media cache sees them (status, headers, body length: ``MediaCache.fetch`` only FetchError).
"""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np  # noqa: E402
import pytest
import soundfile as sf  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from fuzzkit import FuzzRecorder, json_bytes, mutated, scaled  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schedule_testkit import LOCAL_MEDIA  # noqa: E402
from schedule_testkit import payload as schedule_payload  # noqa: E402

from firmware_daemon.schedule.media_cache import FetchError, MediaCache  # noqa: E402
from firmware_daemon.schedule.store import ScheduleStore  # noqa: E402
from hal.errors import MediaError  # noqa: E402
from hal.media import probe  # noqa: E402
from radio_protocol.jose import KeyRing, Signer, sha256_hex  # noqa: E402
from radio_protocol.names import SCHEDULE_TYP  # noqa: E402
from radio_protocol.schedule.model import Media  # noqa: E402

DISTRICT = Signer(Ed25519PrivateKey.generate())
NOW = datetime(2024, 2, 26, tzinfo=UTC)


@pytest.fixture
def fuzz(request: pytest.FixtureRequest) -> Iterator[FuzzRecorder]:
    recorder = FuzzRecorder(request.node.name.removeprefix("test_fuzz_"))
    yield recorder
    recorder.save()


@pytest.fixture
def schedule_store(tmp_path: Path) -> Iterator[ScheduleStore]:
    store = ScheduleStore(tmp_path / "sched", district="kon-ray", station="dak-koi-01",
                          keys=KeyRing.from_jwks([DISTRICT.public_jwk]))
    yield store  # one per target (its SQLite file): offers pile up as on a station
    store.close()


@scaled(0.2)
@given(st.data())
def test_fuzz_schedule_offer(fuzz: FuzzRecorder, schedule_store: ScheduleStore, data: st.DataObject) -> None:
    kind = data.draw(st.integers(0, 2))
    if kind == 0:
        raw = data.draw(st.binary(max_size=300))
    elif kind == 1:
        depth = data.draw(st.integers(30, 20_000))
        raw = DISTRICT.sign(b"[" * depth + b"]" * depth, SCHEDULE_TYP)
    else:
        raw = DISTRICT.sign(json_bytes(data.draw(mutated(schedule_payload(), depth=3))), SCHEDULE_TYP)
    with fuzz.case():
        result = schedule_store.offer(raw, NOW)
    assert result.status in ("accepted", "duplicate") or result.error  # a refusal says why
    assert result.error is None or len(result.error) <= 600


def _wav() -> bytes:
    out = io.BytesIO()
    sf.write(out, np.zeros((480, 1), dtype="float32"), 48000, format="WAV")
    return out.getvalue()


WAV = _wav()


@scaled(0.5)
@given(st.data())
def test_fuzz_media_header_probe(fuzz: FuzzRecorder, tmp_path_factory: pytest.TempPathFactory,
                                 data: st.DataObject) -> None:
    head = bytearray(WAV[:64])
    for _ in range(data.draw(st.integers(0, 6))):
        head[data.draw(st.integers(0, len(head) - 1))] = data.draw(st.integers(0, 255))
    body = data.draw(st.sampled_from([bytes(head) + WAV[64:], data.draw(st.binary(max_size=200)), b"ID3" + bytes(head)]))
    path = tmp_path_factory.mktemp("m") / "media.bin"
    path.write_bytes(body)
    with fuzz.case(MediaError):
        info = probe(path)
        assert info.duration_s > 0


class _Server(http.server.ThreadingHTTPServer):
    response: tuple[int, list[tuple[str, str]], bytes] = (200, [], b"")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status, headers, body = self.server.response  # type: ignore[attr-defined]
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()


HEADER_VALUES = st.sampled_from(["0", "5", "-1", "99999999999999999999", "abc", "bytes 0-4/5", "bytes */*",
                                 "chunked", "gzip", "audio/wav", ""]) | st.text(alphabet="abc019 -/*,;=", max_size=30)


@scaled(0.2)
@given(st.data())
def test_fuzz_media_http_response(fuzz: FuzzRecorder, server: _Server, tmp_path_factory: pytest.TempPathFactory,
                                  data: st.DataObject) -> None:
    body = data.draw(st.sampled_from([b"hello", b"", b"hell", b"hello world"]))
    headers = data.draw(st.lists(st.tuples(st.sampled_from(["Content-Length", "Content-Range", "Transfer-Encoding",
                                                            "Content-Encoding", "Content-Type", "Location"]),
                                           HEADER_VALUES), max_size=3))
    status = data.draw(st.sampled_from([200, 206, 204, 301, 302, 304, 404, 416, 500, 999]))
    server.response = (status, headers, body)
    cache = MediaCache(tmp_path_factory.mktemp("cache"), LOCAL_MEDIA)
    media = Media(sha256_hex(b"hello"), f"http://127.0.0.1:{server.server_address[1]}/m.wav", 5, 1.0)
    with fuzz.case(FetchError, reason=lambda exc: ""):
        path = cache.fetch(media)
        assert Path(path).read_bytes() == b"hello"
