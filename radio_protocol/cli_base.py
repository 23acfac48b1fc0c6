"""Shared command-line plumbing: subcommands registered by modules, errors as exit codes.

Each program's ``cli.py`` lists command modules; each module has
``register(subparsers) -> None`` and sets ``func=handler`` on its parsers, where
``handler(args) -> int``. A :class:`CommuneRadioError` becomes a clear message on
stderr and exit code 1 (no stack trace for officials); usage errors exit 2. Any other
exception is a bug of ours: one line on stderr saying so, exit 1; its stack trace is
logged only with ``-v``. No traceback reaches a user.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import TypeAlias

from radio_protocol.errors import CommuneRadioError, ConfigError

# What a command module's ``register(sub)`` receives: the parser's ``add_subparsers()``.
# (A string: argparse's class cannot be subscripted at run time before Python 3.12.)
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser(prog: str, description: str, modules: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-c", "--config", help="path of the YAML config file")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else getattr(logging, os.environ.get("LOG_LEVEL", "INFO").upper(), logging.INFO)
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journald else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)


def run_main(prog: str, description: str, modules: Sequence[str], argv: Sequence[str] | None) -> int:
    parser = build_parser(prog, description, modules)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"{prog}: configuration error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except CommuneRadioError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `... | head`: the reader left. Not an error of ours; no traceback, and nothing more
        # for Python to flush into the closed pipe at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug of ours: one line, not a page of Python, for the user
        logging.getLogger(prog).debug("unexpected error in %s", args.command, exc_info=True)
        print(f"{prog}: unexpected error ({type(exc).__name__}: {exc}); this is a bug: run the "
              "command again with -v for the details and report them", file=sys.stderr)
        return 1


def require_config(args: argparse.Namespace, prog: str) -> str:
    """The ``-c`` path, or a ConfigError telling how to give it."""
    if not args.config:
        raise ConfigError([f"{prog} {args.command}: needs -c CONFIG (the YAML config file)"])
    return str(args.config)


def print_problems(path: str, problems: Sequence[str]) -> int:
    """A ``check`` command's failure: ``PATH: N problem(s):`` and one ``  - problem`` line
    each on stdout; returns the exit code, 1."""
    print(f"{path}: {len(problems)} problem(s):")
    for problem in problems:
        print(f"  - {problem}")
    return 1
