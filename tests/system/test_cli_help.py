"""Every command of both programs explains itself in ``--help`` (a description, not only
the one-line summary of the parent's list)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from district_collector.cli import COMMAND_MODULES as DISTRICT_MODULES
from firmware_daemon.cli import COMMAND_MODULES as STATION_MODULES
from radio_protocol.cli_base import build_parser


def _commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _commands(sub, f"{prefix} {name}")


PARSERS = [("radio-station", STATION_MODULES), ("radio-district", DISTRICT_MODULES)]
COMMANDS = [(name, sub) for prog, modules in PARSERS
            for name, sub in _commands(build_parser(prog, "", modules), prog)]


@pytest.mark.parametrize(("name", "parser"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_cli_help_every_command_has_a_description(name: str, parser: argparse.ArgumentParser) -> None:
    assert parser.description and len(parser.description) > 40, f"{name} --help has no description"


def test_cli_help_lists_the_commands_a_user_reads_about() -> None:
    names = {name for name, _ in COMMANDS}
    for command in ("radio-station keygen", "radio-station run", "radio-station check", "radio-station amp-off",
                    "radio-district keygen", "radio-district run", "radio-district stations",
                    "radio-district check"):
        assert command in names
