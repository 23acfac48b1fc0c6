"""What every benchmark shares: figures, statistics, process accounting, a CPU hog.

A :class:`Figure` is one line of the results table: the measured value next to its
baseline (measured in the same run), the target, and the ratio. Benchmarks never fail
on a slow machine: a missed target is printed, not raised. A figure that could not be
measured says so (``value`` None, ``note`` "not measured: <reason>").

Process accounting reads ``os.wait4`` (CPU seconds and peak RSS of one finished child)
and ``/proc/<pid>`` (a running one); no psutil needed.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figure:
    """One measured figure. ``better`` is ``lower`` or ``higher`` (for the target check)."""

    bench: str
    name: str
    unit: str
    value: float | None
    target: float | None = None
    better: str = "lower"
    baseline: float | None = None
    baseline_name: str = ""
    runs: int = 1
    samples: list[float] = field(default_factory=list)
    note: str = ""
    ratio_target: float | None = None  # the target is on value / baseline (same sense as better)

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline is None or self.baseline <= 0:
            return None  # a ratio to zero or to a negative error means nothing
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        checks: list[bool] = []
        for got, want in ((self.value, self.target), (self.ratio, self.ratio_target)):
            if got is not None and want is not None:
                checks.append(got <= want if self.better == "lower" else got >= want)
        return all(checks) if checks else None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = self.ratio
        out["met"] = self.met
        return out


def not_measured(bench: str, name: str, unit: str, reason: str, *,
                 target: float | None = None, better: str = "lower") -> Figure:
    return Figure(bench, name, unit, None, target=target, better=better,
                  note=f"not measured: {reason}")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 50 values is the largest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


# --- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildUsage:
    """What one finished child process used."""

    returncode: int
    wall_s: float
    cpu_s: float
    maxrss_mb: float
    stdout: bytes
    stderr: bytes


def run_measured(argv: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout_s: float = 600.0,
                 stdin: bytes | None = None) -> ChildUsage:
    """Run ``argv`` to the end: its own CPU seconds (user+sys, wait4) and peak RSS (VmHWM
    sampled every 5 ms: a peak in the last 5 ms of its life may be missed)."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-out-{os.getpid()}-{time.monotonic_ns()}"
    err_path = out_path.with_suffix(".err")
    begin = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=out, stderr=err,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        deadline = begin + timeout_s
        peak_mb = 0.0
        while True:
            try:  # VmHWM: ru_maxrss would count the bench process's pages copied at fork
                peak_mb = max(peak_mb, proc_rss_mb(proc.pid, "VmHWM"))
            except (OSError, ValueError):
                pass
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
    wall = time.monotonic() - begin
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_bytes(), err_path.read_bytes()
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    return ChildUsage(proc.returncode, wall, usage.ru_utime + usage.ru_stime, peak_mb, stdout, stderr)


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user+sys) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int, key: str = "VmRSS") -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def stop_process(proc: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for our programs: the repo on the path, test ALSA devices."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("ALSA_CONFIG_PATH",
                   f"/usr/share/alsa/alsa.conf:{REPO / 'tests' / 'asound-test.conf'}")
    env.update(extra)
    return env


HOG = "while True: pass"


@contextmanager
def cpu_hog(count: int = 1) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` busy-loop processes (the 'other core fully loaded' condition)."""
    procs = [subprocess.Popen([PYTHON, "-c", HOG]) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def wait_for(predicate: Any, timeout_s: float, step_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())
