"""``radio-district media check FILE...``: loudness, true peak, duration of audio files.

Per file: integrated loudness (LUFS, ITU-R BS.1770-4 via pyloudnorm), true peak (dBTP,
4x oversampled), duration, sample rate, channels, and a verdict against the district's
``media.loudness_target_lufs`` (default -16 LUFS): ``ok``, ``too-quiet`` /
``too-loud`` (more than :data:`TOLERANCE_LU` from the target; ``schedule publish``
normalises such a file), ``clipping-risk`` (true peak above -1 dBTP). A file that cannot be
measured gets its error on its own line; the others are still checked. Exit 1 if any file
failed, else 0.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from district_collector.config import load_district_config
from district_collector.media.loudness import Loudness, LoudnessError, measure
from district_collector.media.normalise import CEILING_DBTP
from radio_protocol.cli_base import Subcommands, require_config

PROG = "radio-district"
DEFAULT_TARGET_LUFS = -16.0
TOLERANCE_LU = 1.0


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("media", help="check media files (loudness, true peak, duration)",
                            description="Media files: measure their loudness and true peak before "
                                        "publishing or broadcasting them.")
    actions = parser.add_subparsers(dest="media_command", metavar="ACTION")
    actions.required = True
    check = actions.add_parser(
        "check", help="integrated loudness (LUFS), true peak (dBTP), duration, rate, channels, verdict",
        description="Measure each FILE (ITU-R BS.1770-4 integrated loudness, 4x-oversampled true peak) "
                    "and compare it with media.loudness_target_lufs. Exit 1 if any file cannot be measured.")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.set_defaults(func=cmd_check)


@dataclass(frozen=True)
class Checked:
    """One file's line: its measurement and verdicts, or the error."""

    file: str
    loudness: Loudness | None
    verdicts: tuple[str, ...]
    error: str | None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file}
        if self.loudness is not None:
            out.update(self.loudness.as_json())
            out["verdict"] = list(self.verdicts)
        out["error"] = self.error
        return out


def verdicts(found: Loudness, target_lufs: float | None) -> tuple[str, ...]:
    """``ok``, or the problems: ``too-quiet``/``too-loud`` (vs the target), ``clipping-risk``."""
    out: list[str] = []
    if target_lufs is not None and found.integrated_lufs < target_lufs - TOLERANCE_LU:
        out.append("too-quiet")
    if target_lufs is not None and found.integrated_lufs > target_lufs + TOLERANCE_LU:
        out.append("too-loud")
    if found.true_peak_dbtp > CEILING_DBTP:
        out.append("clipping-risk")
    return tuple(out) or ("ok",)


def check_file(path: str, target_lufs: float | None) -> Checked:
    try:
        found = measure(Path(path))
    except LoudnessError as exc:
        return Checked(path, None, (), str(exc))
    return Checked(path, found, verdicts(found, target_lufs), None)


def cmd_check(args: argparse.Namespace) -> int:
    config = load_district_config(require_config(args, PROG))
    target = config.media.loudness_target_lufs if config.media is not None else DEFAULT_TARGET_LUFS
    rows = [check_file(f, target) for f in args.files]
    if args.format == "json":
        print(json.dumps({"target_lufs": target, "files": [r.as_json() for r in rows]}, ensure_ascii=False,
                         indent=2))
    else:
        print(f"target: {'-' if target is None else f'{target:.1f} LUFS'}, true peak ceiling "
              f"{CEILING_DBTP:.1f} dBTP")
        print(f"{'file':<32} {'LUFS':>7} {'dBTP':>7} {'seconds':>8} {'Hz':>6} {'ch':>3}  verdict")
        for r in rows:
            if r.loudness is None:
                print(f"{r.file:<32} error: {r.error}")
                continue
            lo = r.loudness
            print(f"{r.file:<32} {lo.integrated_lufs:>7.1f} {lo.true_peak_dbtp:>7.1f} {lo.duration_s:>8.2f} "
                  f"{lo.sample_rate:>6} {lo.channels:>3}  {', '.join(r.verdicts)}")
    return 1 if any(r.error for r in rows) else 0
