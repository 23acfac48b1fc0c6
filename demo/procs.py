"""Child processes of the demo: started in their own process groups, all ended on exit or Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path


class ProcessSetClosed(RuntimeError):
    """A process was to be started after :meth:`ProcessSet.close` (the demo is ending)."""


class ProcessSet:
    """Every process the demo starts; ``close()`` ends them all (SIGTERM, then SIGKILL).

    Thread safe: station threads start and stop their own processes while the main
    thread may call ``close()`` at any moment (Ctrl-C); after ``close()`` nothing starts.
    Each child runs in its own session, so a signal reaches its whole process group and a
    Ctrl-C on the terminal reaches only the demo, which then stops the children in order.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
              log_name: str | None = None) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._closed:
                raise ProcessSetClosed(name)
            if name in self.procs and self.procs[name].poll() is None:
                raise RuntimeError(f"process {name} is already running")
            with open(self.log_dir / f"{log_name or name}.log", "ab") as log:
                proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, env=env,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            self.procs[name] = proc
            return proc

    def wait(self, name: str) -> int | None:
        """Wait for a child to exit by itself; forget it; its exit code (None if unknown)."""
        with self._lock:
            proc = self.procs.get(name)
        if proc is None:
            return None
        code = proc.wait()
        with self._lock:
            if self.procs.get(name) is proc:
                del self.procs[name]
        return code

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int | None:
        with self._lock:
            proc = self.procs.pop(name, None)
        if proc is None:
            return None
        return _end(proc, sig, timeout_s)

    def running(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self.procs.values() if p.poll() is None]

    def close(self) -> None:
        """End every child, newest first (stations before the collector before the broker)."""
        with self._lock:
            self._closed = True
            names = list(self.procs)[::-1]
        for name in names:
            self.stop(name)


def _end(proc: subprocess.Popen[bytes], sig: int, timeout_s: float) -> int | None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
