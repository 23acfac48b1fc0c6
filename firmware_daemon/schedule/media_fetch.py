"""One media download over HTTP(S), bounded against a hostile or broken server.

:func:`download` appends the bytes of a URL to a ``.part`` file and guarantees, whatever
the server does:

- **every failure is a** :class:`FetchError`: a non-HTTP reply
  (``http.client.HTTPException``), a reset, a TLS or DNS error. The caller fetches the
  other segments all the same;
- **an overall deadline** (``MediaConfig.deadline_s`` per file, from the first connection
  to the last byte, headers included): a watchdog shuts the socket down when it expires,
  so a server dripping a byte every few seconds cannot hold the fetcher. What arrived stays
  in the ``.part`` file and the next round resumes it with ``Range``; ``timeout_s`` bounds
  each single wait for the network;
- **redirects stay on http/https** (any other scheme, e.g. ``ftp://``, is refused), at most
  :data:`MAX_REDIRECTS` of them;
- **the schedule's declared size caps the download**: a ``Content-Length`` above what is
  still missing is refused before a byte is written, and a body that runs past it is cut
  and the ``.part`` file deleted;
- **no local hosts** unless ``MediaConfig.allow_local_hosts``: the peer address of every
  connection (the first and each redirect, checked after the connection is made, so DNS
  cannot swap it afterwards) must not be loopback, link-local, unspecified, multicast or
  in one of the station's own networks (the on-link IPv4 routes of ``/proc/net/route``
  and the IPv6 prefixes of ``/proc/net/if_inet6``). Proxies from the environment are
  not used: the station connects to the media host itself.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firmware_daemon.config import MediaConfig
from hal.errors import MediaError

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
MAX_REDIRECTS = 5
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchError(MediaError):
    """A media file could not be fetched (network, HTTP status, size, hash, deadline, refused host)."""

    def __init__(self, message: str) -> None:
        super().__init__("media-missing", message)


# --- which hosts a station may fetch from -------------------------------------------------

def own_networks(route_file: Path = Path("/proc/net/route"),
                 inet6_file: Path = Path("/proc/net/if_inet6")) -> tuple[IPNetwork, ...]:
    """The networks the station is itself on: its on-link IPv4 routes and IPv6 prefixes.

    Read from Linux's ``/proc``; a file that is missing or unreadable adds nothing.
    """
    networks: list[IPNetwork] = []
    try:
        for line in route_file.read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 8 or int(fields[2], 16) != 0:
                continue  # via a gateway: not the station's own network
            dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            if int(mask):
                networks.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    except (OSError, ValueError):
        pass
    try:
        for line in inet6_file.read_text(encoding="ascii").splitlines():
            fields = line.split()
            if len(fields) >= 3:
                address = ipaddress.IPv6Address(int(fields[0], 16))
                networks.append(ipaddress.IPv6Network(f"{address}/{int(fields[2], 16)}", strict=False))
    except (OSError, ValueError):
        pass
    return tuple(networks)


def address_refusal(address: str, networks: tuple[IPNetwork, ...]) -> str | None:
    """Why a station must not fetch media from ``address`` (an IP literal), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag in ("loopback", "link_local", "unspecified", "multicast"):
        if getattr(ip, f"is_{flag}"):
            return f"{address} is a {flag.replace('_', '-')} address"
    for network in networks:
        if ip.version == network.version and ip in network:
            return f"{address} is in the station's own network {network}"
    return None


# --- the guarded connection -----------------------------------------------------------------

class _Guard:
    """Checks each connection's peer and shuts its socket down when the deadline expires."""

    def __init__(self, config: MediaConfig, networks: Callable[[], tuple[IPNetwork, ...]]) -> None:
        self.config = config
        self._networks = networks
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False

    def admit(self, sock: socket.socket) -> None:
        """Register ``sock`` for the deadline; FetchError if its peer is a refused host."""
        with self._lock:
            if self.expired:
                raise FetchError("deadline exceeded")
            self._sockets.append(sock)
        if not self.config.allow_local_hosts:
            peer = str(sock.getpeername()[0])
            why = address_refusal(peer, self._networks())
            if why:
                raise FetchError(f"media host refused: {why} (media.allow_local_hosts is false)")

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.guard = guard

    def connect(self) -> None:
        super().connect()
        self.guard.admit(self.sock)


class _CheckedHTTPSConnection(http.client.HTTPSConnection, _CheckedHTTPConnection):
    """TLS on top of :class:`_CheckedHTTPConnection`: the peer is checked before the handshake."""


class _Handlers(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    def __init__(self, guard: _Guard) -> None:
        urllib.request.HTTPHandler.__init__(self)
        urllib.request.HTTPSHandler.__init__(self)
        self._guard = guard

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_CheckedHTTPConnection, guard=self._guard), req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_CheckedHTTPSConnection, guard=self._guard), req)


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req: urllib.request.Request, fp: object, code: int, msg: str,
                         headers: object, newurl: str) -> urllib.request.Request | None:
        scheme = urlsplit(newurl).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"{req.full_url}: redirect to scheme {scheme or '(none)'!r} refused "
                             "(http or https only)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]


# --- the download ---------------------------------------------------------------------------

def download(url: str, part: Path, have: int, total: int, config: MediaConfig, *,
             networks: Callable[[], tuple[IPNetwork, ...]] = own_networks) -> None:
    """Bring ``part`` to ``total`` bytes from ``url``, resuming after its first ``have`` bytes.

    Raises FetchError when it could not (the ``.part`` keeps what arrived, unless the
    server sent more than ``total``: then it is deleted). The bytes are fsynced; the hash
    is the caller's to check.
    """
    guard = _Guard(config, networks)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _Handlers(guard), _Redirects())
    request = urllib.request.Request(url, headers={"User-Agent": "commune-radio-station"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    watchdog = threading.Timer(config.deadline_s, guard.expire)
    watchdog.daemon = True
    watchdog.start()
    deadline_mono = time.monotonic() + config.deadline_s
    try:
        with opener.open(request, timeout=min(config.timeout_s, config.deadline_s)) as response:
            have = _receive(url, response, part, have, total, deadline_mono)
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        if guard.expired:
            raise FetchError(f"{url}: deadline of {config.deadline_s:g} s exceeded "
                             "(what arrived is kept; will resume)") from exc
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
    finally:
        watchdog.cancel()
    if have != total:
        late = f"deadline of {config.deadline_s:g} s exceeded, " if guard.expired else ""
        raise FetchError(f"{url}: {late}got {have} of {total} bytes (will resume)")


def _receive(url: str, response: http.client.HTTPResponse, part: Path, have: int, total: int,
             deadline_mono: float) -> int:
    """Write the response body into ``part`` after ``have`` bytes; the size it reached."""
    status = response.status
    if have and status != 206:
        have = 0  # the server ignored Range: start over
    elif status not in (200, 206):
        raise FetchError(f"{url}: HTTP {status}")
    announced = response.headers.get("Content-Length")
    if announced is not None and announced.strip().isdigit() and int(announced) > total - have:
        raise FetchError(f"{url}: Content-Length {int(announced)} is more than the announced "
                         f"{total - have} bytes left to fetch (the schedule declares {total})")
    oversized = False
    with part.open("r+b" if have and part.exists() else "wb") as fh:
        fh.seek(have)
        fh.truncate()
        try:
            while True:
                if time.monotonic() > deadline_mono:
                    raise FetchError(f"{url}: deadline exceeded (what arrived is kept; will resume)")
                block = response.read1(CHUNK_BYTES)
                if not block:
                    break
                if have + len(block) > total:
                    oversized = True
                    break
                fh.write(block)
                have += len(block)
        finally:
            fh.flush()
            os.fsync(fh.fileno())
    if oversized:
        part.unlink(missing_ok=True)
        raise FetchError(f"{url}: more than the announced {total} bytes (.part deleted)")
    return have
