"""A loopback TCP proxy the demo can cut: a station's network link going down and up.

:class:`LinkProxy` listens on 127.0.0.1 and forwards each connection to the broker.
:meth:`LinkProxy.cut` drops every open connection and refuses new ones (the station sees
its link fail, the broker sees the station vanish and publishes its Last Will);
:meth:`LinkProxy.restore` lets connections through again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

BUFFER_BYTES = 65536


class LinkProxy:
    """Forwards 127.0.0.1:``port`` to ``target_host``:``target_port`` while up."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, name="link-proxy", daemon=True)
        self._thread.start()

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    def cut(self) -> None:
        """Drop every connection and refuse new ones until :meth:`restore`."""
        self._up.clear()
        self._drop_all()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed.set()
        self._up.clear()
        self._drop_all()
        self._thread.join(2.0)
        self._listener.close()

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._up.is_set():
                client.close()  # link down: the connection is refused at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True,
                             name="link-proxy-pump").start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while self._up.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(BUFFER_BYTES)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._sockets.discard(a)
                self._sockets.discard(b)
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
