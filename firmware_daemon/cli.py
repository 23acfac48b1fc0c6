"""``radio-station``: the station's command line. Each command lives in its own module."""

from __future__ import annotations

from collections.abc import Sequence

from radio_protocol.cli_base import run_main

# Each module has register(subparsers); add a line to add commands.
COMMAND_MODULES: list[str] = [
    "firmware_daemon.commands.core",
    "firmware_daemon.commands.run",
    "firmware_daemon.commands.schedule",
    "firmware_daemon.commands.status",
]


def main(argv: Sequence[str] | None = None) -> int:
    return run_main("radio-station", "Commune Radio station daemon", COMMAND_MODULES, argv)


if __name__ == "__main__":
    raise SystemExit(main())
