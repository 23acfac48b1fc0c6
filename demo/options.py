"""``python -m demo.run``'s command line."""

from __future__ import annotations

import argparse

from demo.district import COMMUNES

DESCRIPTION = "make demo: a simulated Kon Rẫy district on one machine, start to evidence."


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.run", description=DESCRIPTION)
    parser.add_argument("--out", default="demo-out", help="output directory (default demo-out)")
    parser.add_argument("--days", type=int, default=0, help="simulate only the first N days of the month")
    parser.add_argument("--stations", type=int, default=len(COMMUNES), choices=range(1, len(COMMUNES) + 1),
                        metavar=f"1..{len(COMMUNES)}", help="how many commune stations (default all)")
    parser.add_argument("--fast", action="store_true", help="no pauses for the eye (tests)")
    parser.add_argument("--no-web", action="store_true",
                        help="end after the evidence instead of serving the web console until Ctrl-C")
    args = parser.parse_args(argv)
    if args.days < 0:
        parser.error("--days: a positive number of days")
    return args
