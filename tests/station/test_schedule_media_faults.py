"""The media fetcher against real local sockets that misbehave: each fault is bounded, named
and leaves the other segments to be fetched."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from schedule_testkit import LOCAL_MEDIA, media_server, payload, segment, sha256_hex

from firmware_daemon.config import MediaConfig
from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.media_fetch import FetchError, address_refusal, own_networks
from radio_protocol.schedule.model import Media
from radio_protocol.schedule.parse import parse_schedule

DATA = os.urandom(50_000)
SHA = sha256_hex(DATA)
FAST = MediaConfig(allow_local_hosts=True, timeout_s=0.5, deadline_s=1.0)


@contextmanager
def raw_server(reply: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that reads a request and runs ``reply`` on each connection;
    yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    reply(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_media_non_http_reply_is_a_fetch_error_and_others_are_fetched(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", FAST)

    def ssh_banner(conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    with raw_server(ssh_banner) as bad, media_server() as good:
        good.files["/m/ok.wav"] = DATA
        with pytest.raises(FetchError, match="BadStatusLine|RemoteDisconnected"):
            cache.fetch(Media("1" * 64, f"{bad}/x.wav", 100, 1.0))
        schedule = parse_schedule(payload(segments=[
            segment("cds-a", sha="1" * 64, size=100, url=f"{bad}/x.wav"),
            segment("cds-b", sha=SHA, size=len(DATA), url=good.url("/m/ok.wav"))],
            slots=[{"segment": "cds-a", "at": "2024-03-05T06:30:00+07:00"},
                   {"segment": "cds-b", "at": "2024-03-05T07:30:00+07:00"}]))
        assert cache.fetch_all(schedule) == ["cds-a"]
    assert (tmp_path / "media" / SHA).read_bytes() == DATA


@pytest.mark.parametrize("where", ["body", "headers"])
def test_media_dripping_server_hits_the_deadline(tmp_path: Path, where: str) -> None:
    cache = MediaCache(tmp_path / "media", FAST)

    def drip(conn: socket.socket) -> None:
        if where == "body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(40):
            conn.sendall(b"x" if where == "body" else b"X-Slow: y\r\n")
            time.sleep(0.2)

    with raw_server(drip) as url:
        started = time.monotonic()
        with pytest.raises(FetchError, match="deadline"):
            cache.fetch(Media("2" * 64, f"{url}/slow.wav", 100, 1.0))
        assert time.monotonic() - started < 2.5  # deadline_s 1 s, not the 8 s of dripping
    if where == "body":  # what arrived is kept, to resume with Range next round
        assert 0 < (tmp_path / "media" / f"{'2' * 64}.part").stat().st_size < 100


def test_media_redirect_to_ftp_is_refused(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", FAST)

    def to_ftp(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1:1/seg.wav\r\n"
                     b"Content-Length: 0\r\n\r\n")

    with raw_server(to_ftp) as url:
        with pytest.raises(FetchError, match="redirect to scheme 'ftp' refused"):
            cache.fetch(Media("3" * 64, f"{url}/seg.wav", 100, 1.0))
    assert list((tmp_path / "media").iterdir()) == []


def test_media_redirect_within_http_is_followed(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", FAST)
    with media_server() as good:
        good.files["/m/ok.wav"] = DATA
        target = good.url("/m/ok.wav").encode()

        def moved(conn: socket.socket) -> None:
            conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: " + target + b"\r\nContent-Length: 0\r\n\r\n")

        with raw_server(moved) as url:
            assert cache.fetch(Media(SHA, f"{url}/old.wav", len(DATA), 1.0)).read_bytes() == DATA


def test_media_oversized_content_length_writes_nothing(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", FAST)

    def huge(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
        conn.sendall(b"\0" * 300_000)

    with raw_server(huge) as url:
        with pytest.raises(FetchError, match="Content-Length 1073741824 is more than the announced 1000"):
            cache.fetch(Media("4" * 64, f"{url}/big.wav", 1000, 1.0))
    assert list((tmp_path / "media").iterdir()) == []


def test_media_body_beyond_declared_size_is_cut_and_deleted(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "media", FAST)

    def unannounced(conn: socket.socket) -> None:  # HTTP/1.0, no Content-Length: until close
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"\0" * 300_000)

    with raw_server(unannounced) as url:
        with pytest.raises(FetchError, match="more than the announced 1000 bytes"):
            cache.fetch(Media("5" * 64, f"{url}/big.wav", 1000, 1.0))
    assert list((tmp_path / "media").iterdir()) == []


def test_media_from_loopback_is_refused_unless_allowed(tmp_path: Path) -> None:
    strict = MediaCache(tmp_path / "strict", MediaConfig())
    with media_server() as server:
        server.files["/m/ok.wav"] = DATA
        with pytest.raises(FetchError, match="127.0.0.1 is a loopback address"):
            strict.fetch(Media(SHA, server.url("/m/ok.wav"), len(DATA), 1.0))
        assert server.requests == []  # refused before a request was sent
        allowed = MediaCache(tmp_path / "allowed", LOCAL_MEDIA)
        assert allowed.fetch(Media(SHA, server.url("/m/ok.wav"), len(DATA), 1.0)).read_bytes() == DATA


OWN = (ipaddress.ip_network("192.168.1.0/24"), ipaddress.ip_network("2001:db8:1::/64"))


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("127.8.8.8", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("169.254.169.254", "link-local"), ("fe80::1%eth0", "link-local"),
    ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"), ("192.168.1.20", "own network"),
    ("2001:db8:1::5", "own network"), ("203.0.113.7", None), ("192.168.2.20", None),
])
def test_media_address_refusal(address: str, why: str | None) -> None:
    found = address_refusal(address, OWN)
    assert (found is None) if why is None else (found is not None and why in found)


def test_media_own_networks_read_from_proc(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"  # default via gateway
        "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"  # 192.168.1.0/24 on-link
        "wg0\t00000A0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n",  # 10.10.0.0/16 on-link
        encoding="ascii")
    inet6 = tmp_path / "if_inet6"
    inet6.write_text("20010db8000100000000000000000005 02 40 00 80 eth0\n", encoding="ascii")
    assert own_networks(route, inet6) == (ipaddress.ip_network("192.168.1.0/24"),
                                          ipaddress.ip_network("10.10.0.0/16"),
                                          ipaddress.ip_network("2001:db8:1::/64"))
    assert own_networks(tmp_path / "none", tmp_path / "none") == ()
