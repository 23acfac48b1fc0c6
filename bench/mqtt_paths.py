"""``python -m bench.mqtt_paths``: the CPU per message of each MQTT receive path we could use.

Issue 14 asks, before any MQTT client is swapped, for the alternatives to be measured.
Each path receives the same signed events (~1 KB, per-station topics
``cr/v1/kon-ray/station/<id>/event``, published QoS 1 by each station's own client) from a
real Mosquitto: the receiver connects and subscribes, is frozen (SIGSTOP) while the events
are published and queued, then resumed; its CPU is read from ``/proc/<pid>/task/*/sched``
(``se.sum_exec_runtime``, ns; all threads) before the resume and after its last message,
best of ``--runs``, per message. Paths (the PUBACK column says when the broker is told the
message is safe):

1. paho MQTT 5, manual PUBACK after the queue hand-off (:mod:`bench.mqtt_receiver`, the
   collector's path without the ingest);
2. the same on MQTT 3.1.1;
3. libmosquitto (C) through ctypes (:mod:`bench.mqtt_receiver_libmosq`): a callback that
   only counts, and one that does the collector's queue hand-off; the library PUBACKs on
   receipt (it has no manual-ack API);
4. ``mosquitto_sub -q 1`` (C) alone to /dev/null, and feeding a Python reader through a
   pipe (:mod:`bench.mqtt_receiver_pipe`; both processes' CPU); PUBACK on receipt too;
5. gmqtt (pure-Python asyncio MQTT 5 client), when ``--gmqtt-python`` names an interpreter
   that has it (:mod:`bench.mqtt_receiver_gmqtt`); aiomqtt is not measured: it wraps paho.

The same run measures the raw Ed25519 verify (the issue's baseline) and ``Ingestor.ingest``
in-process (:func:`bench.ingest_parts.in_process`), so each row also gives the estimate
``raw verify / (ingest + path)``: the share of the verify-only rate one collector worker
would reach on that path (the issue's target is 0.75). A path that cannot run here says
"not measured: <reason>". ``--json FILE`` writes the rows for tests.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import PYTHON, bench_env, proc_cpu_s, stop_process
from bench.district import DISTRICT, OBSERVER, District, make_district
from bench.ingest import TARGET_VERIFY_SHARE, _publish_all, _started_at
from bench.ingest_parts import in_process
from bench.mqtt_receiver_libmosq import LIBRARY

PAHO5 = "paho MQTT 5, manual PUBACK, queue hand-off"
PAHO311 = "paho MQTT 3.1.1, manual PUBACK, queue hand-off"
LIBMOSQ_COUNT = "libmosquitto (ctypes), callback counts only"
LIBMOSQ_QUEUE = "libmosquitto (ctypes), callback -> queue hand-off"
SUB_NULL = "mosquitto_sub (C) -> /dev/null"
SUB_PIPE = "mosquitto_sub (C) piped to a Python reader, queue hand-off"
GMQTT = "gmqtt MQTT 5 (asyncio), queue hand-off"
PATHS = (PAHO5, PAHO311, LIBMOSQ_COUNT, LIBMOSQ_QUEUE, SUB_NULL, SUB_PIPE, GMQTT)
# each row's stable key in --json (the names above are for people)
KEYS = dict(zip(PATHS, ("paho5", "paho311", "libmosq-count", "libmosq-queue", "sub-null", "sub-pipe",
                        "gmqtt"), strict=True))


@dataclass
class Row:
    """One receive path: best CPU us per message (None: not measured, ``note`` says why)."""

    name: str
    us: float | None
    puback: str
    key: str = ""
    note: str = ""
    samples: list[float] = field(default_factory=list)


@dataclass
class Receiver:
    """The processes of one receive path. ``procs`` are frozen and their CPU counted;
    ``reporter`` prints ``ready``/``done`` (None: wait for ``procs[0]`` to exit)."""

    procs: list[subprocess.Popen[bytes]]
    reporter: subprocess.Popen[bytes] | None
    cleanup: Callable[[], None] | None = None


def cpu_s(pid: int) -> float:
    """CPU seconds of a running process, all its live threads, from the scheduler's ns
    counters (``/proc`` ticks of 10 ms are too coarse for 15 us messages); ticks if absent."""
    total = 0.0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for line in (task / "sched").read_text().splitlines():
                if line.startswith("se.sum_exec_runtime"):
                    total += float(line.split(":")[1]) / 1000.0
                    break
            else:
                return proc_cpu_s(pid)
    except OSError:
        return proc_cpu_s(pid)
    return total


def _expect(proc: subprocess.Popen[bytes], word: bytes, timeout_s: float) -> bytes:
    """The rest of the receiver's next line, which must start with ``word``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    line = proc.stdout.readline().strip() if ready else b"(timeout)"
    head, _, rest = line.partition(b" ")
    if head != word:
        err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr and proc.poll() is not None else ""
        raise RuntimeError(f"receiver said {line!r}, expected {word!r} {err}".strip())
    return rest


def _settle(pid: int, socket: bool, timeout_s: float = 20.0) -> None:
    """Until ``pid`` used no CPU for 0.3 s (and holds a socket if ``socket``: connected), so a
    receiver's start-up and connect are not counted per message (mosquitto_sub says nothing
    when it is ready); gives up after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            sockets = any(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
                          for fd in os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            sockets = False
        sockets = sockets or not socket
        before = cpu_s(pid)
        time.sleep(0.3)
        if sockets and cpu_s(pid) == before:
            return


def _run_once(district: District, receiver: Receiver, batch: dict[str, list[tuple[int, bytes]]]) -> float:
    """CPU seconds ``receiver`` spends taking the events of ``batch`` queued while it was frozen."""
    try:
        if receiver.reporter is not None:
            _expect(receiver.reporter, b"ready", 60)
        for proc in receiver.procs:
            _settle(proc.pid, proc.args[0] == "mosquitto_sub")  # type: ignore[index]
        for proc in receiver.procs:
            os.kill(proc.pid, signal.SIGSTOP)
        _publish_all(district, batch)
        cpu0 = sum(cpu_s(p.pid) for p in receiver.procs)
        ticks0 = sum(proc_cpu_s(p.pid) for p in receiver.procs)
        for proc in reversed(receiver.procs):
            os.kill(proc.pid, signal.SIGCONT)
        if receiver.reporter is None:
            first = receiver.procs[0]
            _pid, status, usage = os.wait4(first.pid, 0)  # exact CPU of a finished child
            first.returncode = os.waitstatus_to_exitcode(status)
            if first.returncode != 0:
                raise RuntimeError(f"mosquitto_sub exited with status {first.returncode}")
            return usage.ru_utime + usage.ru_stime - cpu0
        size = int(_expect(receiver.reporter, b"done", 300))
        if size != sum(len(jws) for events in batch.values() for _seq, jws in events):
            raise RuntimeError(f"the receiver got {size} payload bytes, not the {len(batch)} stations' events")
        spent = sum(cpu_s(p.pid) for p in receiver.procs) - cpu0
        ticks = sum(proc_cpu_s(p.pid) for p in receiver.procs) - ticks0
        if abs(spent - ticks) > 0.02 * len(receiver.procs) + 0.1 * ticks:  # a thread's CPU went missing
            raise RuntimeError(f"CPU accounts disagree: {spent:.3f} s (sched) against {ticks:.3f} s (ticks)")
        return spent
    finally:
        for proc in receiver.procs:
            if proc.returncode is None:
                os.kill(proc.pid, signal.SIGCONT)
                stop_process(proc)
        if receiver.cleanup is not None:
            receiver.cleanup()


def _python_receiver(module: str, args: list[str], password: str, python: str = PYTHON) -> Receiver:
    proc = subprocess.Popen([python, "-m", module, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=bench_env())
    assert proc.stdin is not None
    proc.stdin.write(password.encode() + b"\n")
    proc.stdin.flush()
    return Receiver([proc], proc)


def _sub_login(district: District, client_id: str, topic_filter: str) -> list[str]:
    return ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(district.collector_port), "-u", OBSERVER,
            "-P", district.observer_password, "-q", "1", "-V", "mqttv5", "-t", topic_filter, "-c",
            "-i", client_id, "-x", "600"]


def receivers(district: District, total: int, gmqtt_python: str | None) -> dict[str, Callable[[], Receiver] | str]:
    """Each path's receiver factory, or why it cannot run here."""
    topic_filter = f"cr/v1/{DISTRICT}/station/+/event"
    port, pw = str(district.collector_port), district.observer_password
    common = [port, OBSERVER, "-", str(total), topic_filter]
    serial = itertools.count()
    out: dict[str, Callable[[], Receiver] | str] = {
        PAHO5: lambda: _python_receiver("bench.mqtt_receiver", [*common, "5"], pw),
        PAHO311: lambda: _python_receiver("bench.mqtt_receiver", [*common, "311"], pw),
    }
    import ctypes

    try:
        ctypes.CDLL(LIBRARY)
        out[LIBMOSQ_COUNT] = lambda: _python_receiver("bench.mqtt_receiver_libmosq", [*common, "count"], pw)
        out[LIBMOSQ_QUEUE] = lambda: _python_receiver("bench.mqtt_receiver_libmosq", [*common, "queue"], pw)
    except OSError as exc:
        out[LIBMOSQ_COUNT] = out[LIBMOSQ_QUEUE] = f"{LIBRARY} cannot be loaded ({exc}); Debian package libmosquitto1"
    if shutil.which("mosquitto_sub") is None:
        out[SUB_NULL] = out[SUB_PIPE] = "mosquitto_sub not found; Debian package mosquitto-clients"
    else:
        def session(kind: str) -> tuple[list[str], Callable[[], None]]:
            """A fresh persistent session (its own client id) subscribed once beforehand (-E:
            exit when subscribed), so the broker queues the run's events for it even before
            the measured mosquitto_sub has connected; and how to drop it afterwards (a clean
            start on the same id), so it does not pile up the later runs' events."""
            client_id = f"bench-paths-{kind}-{next(serial)}"
            login = _sub_login(district, client_id, topic_filter)
            subprocess.run([*login, "-E"], check=True, timeout=60, capture_output=True)
            clean = [a for a in login if a not in ("-c", "-x", "600")]

            def drop() -> None:
                subprocess.run([*clean, "-E"], timeout=60, capture_output=True)

            return login, drop

        def sub_null() -> Receiver:
            login, drop = session("null")
            return Receiver([subprocess.Popen([*login, "-C", str(total), "-W", "240"],
                                              stdout=subprocess.DEVNULL)], None, drop)

        def sub_pipe() -> Receiver:
            login, drop = session("pipe")
            sub = subprocess.Popen([*login, "-F", "%t %l %p"], stdout=subprocess.PIPE)
            assert sub.stdout is not None
            reader = subprocess.Popen([PYTHON, "-m", "bench.mqtt_receiver_pipe", str(total)], stdin=sub.stdout,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bench_env())
            sub.stdout.close()  # the reader holds the pipe now
            return Receiver([sub, reader], reader, drop)

        out[SUB_NULL], out[SUB_PIPE] = sub_null, sub_pipe
    if gmqtt_python is None:
        out[GMQTT] = ("gmqtt is not installed here (pip install gmqtt into a scratch venv, then "
                      "--gmqtt-python VENV/bin/python)")
    else:
        out[GMQTT] = lambda: _python_receiver("bench.mqtt_receiver_gmqtt", common, pw, gmqtt_python)
    return out


PUBACK = {PAHO5: "after hand-off (manual)", PAHO311: "after hand-off (manual)",
          GMQTT: "after hand-off (optimistic_acknowledgement off)",
          LIBMOSQ_COUNT: "on receipt (no manual API)", LIBMOSQ_QUEUE: "on receipt (no manual API)",
          SUB_NULL: "on receipt", SUB_PIPE: "on receipt (before the pipe)"}


def measure_paths(district: District, chains: dict[str, list[bytes]], per_station: int, runs: int,
                  gmqtt_python: str | None) -> list[Row]:
    total = len(chains) * per_station
    batch = {sid: list(enumerate(chain[:per_station])) for sid, chain in chains.items()}
    rows: list[Row] = []
    for name, factory in receivers(district, total, gmqtt_python).items():
        row = Row(name, None, PUBACK[name], KEYS[name])
        if isinstance(factory, str):
            row.note = f"not measured: {factory}"
        else:
            try:
                row.samples = [_run_once(district, factory(), batch) / total * 1e6 for _ in range(runs)]
                row.us = min(row.samples)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                row.note = f"not measured: {exc}"
        print(f"  {name:52s} {row.us if row.us is not None else float('nan'):8.1f} us  {row.note}", flush=True)
        rows.append(row)
    return rows


def table(rows: list[Row], raw: float, ingest: float) -> str:
    lines = ["| receive path | CPU us/msg | x raw verify | ingest + path -> share of verify-only | PUBACK |",
             "|---|---:|---:|---:|---|"]
    for r in rows:
        if r.us is None:
            lines.append(f"| {r.name} | - | - | - | {r.note} |")
            continue
        share = raw / (ingest + r.us)
        lines.append(f"| {r.name} | {r.us:.1f} | {r.us / raw:.2f} | {share:.2f} | {r.puback} |")
    lines.append(f"| (no receive cost at all) | 0 | 0 | {raw / ingest:.2f} | - |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mqtt_paths", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=4000, help="events per run (over --stations)")
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gmqtt-python", default=os.environ.get("BENCH_GMQTT_PYTHON"),
                        help="a Python interpreter with gmqtt installed (default $BENCH_GMQTT_PYTHON)")
    parser.add_argument("--json", type=Path, help="also write the rows and baselines here")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "commune-radio-bench"))
    args = parser.parse_args(argv)
    per_station = max(1, args.messages // args.stations)
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    district = make_district(Path(tempfile.mkdtemp(dir=root, prefix="mqtt-paths-")), args.stations,
                             with_broker=True)
    try:
        chains = {sid: st.chain(per_station, _started_at) for sid, st in district.stations.items()}
        messages = [(f"cr/v1/{DISTRICT}/station/{sid}/event", jws, "mqtt")
                    for sid, chain in chains.items() for jws in chain]
        size = sum(len(m[1]) for m in messages) / len(messages)
        print(f"CPU microseconds per message, best of {args.runs}, {len(messages)} events of "
              f"{size:.0f} bytes, load average {load_before[0]:.2f}", flush=True)
        stages = in_process(district, messages, args.runs)
        district.start_broker()
        rows = measure_paths(district, chains, per_station, args.runs, args.gmqtt_python)
    finally:
        district.close()
    raw, ingest = stages["raw Ed25519 verify"], stages["Ingestor.ingest (checks + store)"]
    load_after = os.getloadavg()
    print(f"\nraw Ed25519 verify {raw:.1f} us, Ingestor.ingest in-process {ingest:.1f} us "
          f"({ingest / raw:.2f}x); target share >= {TARGET_VERIFY_SHARE:.2f}; load average "
          f"{load_before[0]:.2f} -> {load_after[0]:.2f}")
    print(table(rows, raw, ingest))
    if args.json is not None:
        doc: dict[str, Any] = {"messages": len(messages), "bytes": size, "runs": args.runs,
                               "raw_verify_us": raw, "ingest_us": ingest,
                               "loadavg": [load_before, load_after], "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
