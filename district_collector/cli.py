"""``radio-district``: the district collector's command line. One module per command group."""

from __future__ import annotations

from collections.abc import Sequence

from radio_protocol.cli_base import run_main

# Each module has register(subparsers); add a line to add commands.
COMMAND_MODULES: list[str] = [
    "district_collector.commands.core",
    "district_collector.commands.check",
    "district_collector.commands.provision",
    "district_collector.commands.report",
    "district_collector.commands.catalogue",
    "district_collector.commands.schedule",
    "district_collector.commands.media",
    "district_collector.commands.broadcast",
    "district_collector.commands.user",
    "district_collector.commands.web",
    "district_collector.commands.db",
    "district_collector.commands.alerts",
]


def main(argv: Sequence[str] | None = None) -> int:
    return run_main("radio-district", "Commune Radio district collector", COMMAND_MODULES, argv)


if __name__ == "__main__":
    raise SystemExit(main())
