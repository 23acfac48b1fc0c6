"""``python -m bench.fuzz``: every fuzz target with the ``bench`` budget (100,000 cases each).

Runs the pytest fuzz targets (tests/*/test_fuzz_*.py, see tests/fuzzkit.py) under the
Hypothesis profile ``bench``, randomized (not the CI's fixed sequence), and prints per
target the number of cases and the outcomes seen: ``ok`` or the declared error (with its
reason). Any other exception fails its target and is printed with the minimal input
Hypothesis shrank it to. Hours on 2 cores at the full budget; ``--examples`` for less.

    python -m bench.fuzz                       # 100,000 cases per target
    python -m bench.fuzz --examples 5000 --only jws,schedule
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from bench.common import REPO

TARGETS = ["tests/protocol/test_fuzz_protocol.py", "tests/district/test_fuzz_district.py",
           "tests/station/test_fuzz_station.py", "tests/district/test_fuzz_catalogue_files.py"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100_000, help="cases per target (default 100,000)")
    parser.add_argument("--only", default="", help="comma-separated parts of target names (pytest -k)")
    parser.add_argument("--workers", default="2", help="pytest-xdist workers (default 2)")
    args = parser.parse_args(argv)
    counts = tempfile.mkdtemp(prefix="cr-fuzz-bench-")
    env = dict(os.environ, CR_FUZZ_PROFILE="bench", CR_FUZZ_EXAMPLES=str(args.examples), CR_FUZZ_COUNTS=counts,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=0",
               "-n", args.workers, "--dist", "load", *TARGETS]
    if args.only:
        command += ["-k", " or ".join(part.strip() for part in args.only.split(",") if part.strip())]
    print(f"fuzz: {args.examples} cases per target, counts in {counts}", flush=True)
    return subprocess.run(command, cwd=REPO, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
