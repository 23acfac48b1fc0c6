"""``python -m bench.run``: run the benchmarks, print the table, write bench/results.json.

Benchmarks print; they never fail because the machine is slow. The exit code is 0
unless the harness itself broke (a benchmark that crashes is reported as "not measured"
with its error and the others still run).

    python -m bench.run                      # all figures, default sizes (~5-10 min, 2 cores)
    python -m bench.run --quick              # tiny sizes (smoke test)
    python -m bench.run --only report,ingest # some figures
    python -m bench.run --full               # 10,000 stations x 1 year for the report
    python -m bench.run --only ontime --audio-device default   # on a Pi's real sound card
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import REPO, Figure, not_measured

BENCHES = ("ontime", "playback", "ingest", "catchup", "report", "report_pg", "footprint", "province", "views",
           "web", "workers", "alerts")
RESULTS = REPO / "bench" / "results.json"


@dataclass
class Context:
    quick: bool
    full: bool
    workdir: Path
    log: Callable[[str], None]
    audio_device: str | None = None


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.3f}"
    return f"{value:.4f}"


def table(figures: Sequence[Figure]) -> str:
    """The results as a Markdown table (pasted into the README)."""
    lines = ["| figure | value | unit | target | baseline | ratio | runs | note |",
             "|---|---:|---|---:|---|---:|---:|---|"]
    for f in figures:
        sense = "<= " if f.better == "lower" else ">= "
        targets: list[str] = []
        for label, got, want in (("", f.value, f.target), ("ratio ", f.ratio, f.ratio_target)):
            if want is None:
                continue
            text = f"{label}{sense}{_fmt(want)}{'x' if label else ''}"
            if got is not None and not (got <= want if f.better == "lower" else got >= want):
                text += " MISSED"
            targets.append(text)
        target = ", ".join(targets) or "-"
        baseline = "-" if f.baseline is None else f"{_fmt(f.baseline)} ({f.baseline_name})"
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        lines.append(f"| {f.name} | {_fmt(f.value)} | {f.unit} | {target} | {baseline} | {ratio} "
                     f"| {f.runs} | {f.note} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument("--full", action="store_true", help="largest sizes (report over 1M events)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--out", default=str(RESULTS), help="results file (default bench/results.json)")
    parser.add_argument("--audio-device", default=None, metavar="NAME",
                        help="on-time figure on this real ALSA/PortAudio device (e.g. on a Pi: "
                             "'default' or the card's name) instead of a private PulseAudio null sink")
    parser.add_argument("--workdir", default=None,
                        help="where built stores and media are kept between runs "
                             "(default: $TMPDIR/commune-radio-bench[-quick])")
    args = parser.parse_args(argv)
    only = [b.strip() for b in args.only.split(",") if b.strip()] or list(BENCHES)
    unknown = [b for b in only if b not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    default_dir = Path(tempfile.gettempdir()) / ("commune-radio-bench" + ("-quick" if args.quick else ""))
    workdir = Path(args.workdir) if args.workdir else default_dir
    workdir.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # unwinds: brokers, daemons, hogs stopped

    signal.signal(signal.SIGTERM, interrupted)
    ctx = Context(quick=args.quick, full=args.full, workdir=workdir, log=log,
                  audio_device=args.audio_device)
    figures: list[Figure] = []
    timings: dict[str, float] = {}
    for name in only:
        log(f"== {name}")
        begin = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            got = module.run(ctx)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            got = [not_measured(name, name, "-", f"{type(exc).__name__}: {exc}")]
        timings[name] = round(time.monotonic() - begin, 1)
        for fig in got:
            log(f"  {fig.name}: {_fmt(fig.value)} {fig.unit} (baseline {_fmt(fig.baseline)}) {fig.note}")
        figures += got
    text = table(figures)
    print(text)
    out = Path(args.out)
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "machine": platform.machine(),
                    "cpus": os.cpu_count(), "python": platform.python_version()},
        "mode": "quick" if args.quick else ("full" if args.full else "default"),
        "seconds_per_bench": timings,
        "figures": [f.to_json() for f in figures],
        "table": text,
    }
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
