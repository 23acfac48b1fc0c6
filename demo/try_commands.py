"""What the demo tells its user to try next, and the two commands that make it work as printed.

The project's commands are installed in the virtualenv (``.venv/bin``), which is not on a
new user's PATH, and the demo's stations play into ALSA's null device through
``config/asound-demo.conf``, which only the demo's own environment names. So the demo
writes ``OUT/bin/radio-district`` and ``OUT/bin/radio-station``: small shell wrappers that
set that ALSA configuration and run this checkout's programs with this interpreter. Every
line :func:`try_lines` prints runs as printed, from any shell, with nothing activated
(``tests/system/test_demo_try.py`` runs them in a clean environment).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from demo.district import Paths

REPO = Path(__file__).resolve().parent.parent
ASOUND_CONF = REPO / "config" / "asound-demo.conf"
MODULES = {"radio-district": "district_collector.cli", "radio-station": "firmware_daemon.cli"}

_WRAPPER = """#!/bin/sh
# Written by `make demo`: {program} of this checkout, set up like the demo's processes
# (their sound goes into ALSA's null device: config/asound-demo.conf). Outside the demo,
# use {venv_program} (or `source .venv/bin/activate`).
ALSA_CONFIG_PATH={alsa}
PYTHONPATH={repo}${{PYTHONPATH:+:$PYTHONPATH}}
export ALSA_CONFIG_PATH PYTHONPATH
exec {python} -m {module} "$@"
"""


def alsa_config_path() -> str:
    """ALSA_CONFIG_PATH for the demo's devices (the system file must come first)."""
    return f"/usr/share/alsa/alsa.conf:{ASOUND_CONF}"


def write_wrappers(paths: Paths) -> dict[str, Path]:
    """``OUT/bin/radio-district`` and ``OUT/bin/radio-station`` (mode 0755); program -> path."""
    bin_dir = paths.out / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for program, module in MODULES.items():
        path = bin_dir / program
        path.write_text(_WRAPPER.format(
            program=program, venv_program=REPO / ".venv" / "bin" / program, alsa=shlex.quote(alsa_config_path()),
            repo=shlex.quote(str(REPO)), python=shlex.quote(sys.executable), module=module), encoding="utf-8")
        path.chmod(0o755)
        out[program] = path
    return out


def try_lines(paths: Paths, station: str, first_day: date, last_day: date,
              rel: Callable[[Path], str]) -> list[str]:
    """The "try it yourself" lines: a heading, then one runnable command per line."""
    wrappers = {program: paths.out / "bin" / program for program in MODULES}
    district = [rel(wrappers["radio-district"]), "-c", rel(paths.district_yaml)]
    station_cmd = [rel(wrappers["radio-station"]), "-c", rel(paths.station_yaml(station))]
    media = sorted(paths.media_src.glob("*.wav"))
    commands = [
        [*district, "stations"],
        [*district, "report", "--from", first_day.isoformat(), "--to", last_day.isoformat()],
        [*district, "schedule", "show"],
        [*station_cmd, "schedule", "--at", f"{first_day.isoformat()}T00:00:00+07:00"],
        [*station_cmd, "check"],
    ]
    if media:
        commands.append([*station_cmd, "play", rel(media[0])])
    heading = (f"Try it yourself ({rel(paths.out / 'bin')} has the commands set up for the demo; "
               "elsewhere they are in .venv/bin):")
    return [heading] + ["  " + shlex.join(c) for c in commands]
