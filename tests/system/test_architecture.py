"""The import graph points one way, and every file stays small (docs/ARCHITECTURE.md).

``radio_protocol`` is at the bottom, ``hal`` beside it, the two programs
(``firmware_daemon``, ``district_collector``) above them and never importing each other,
``demo``/``bench``/``tests`` on top. Only ``hal`` touches the hardware libraries. Imports are
absolute. No Python file is over 400 lines. Every ``.py`` file is parsed with :mod:`ast`, so an
import inside a function or under ``TYPE_CHECKING`` counts as much as one at the top, and
so do ``importlib.import_module("...")`` and a ``COMMAND_MODULES`` list of module names.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRAM_PACKAGES = ("radio_protocol", "hal", "firmware_daemon", "district_collector")
TOP_DIRS = (*PROGRAM_PACKAGES, "demo", "bench", "tests")
HARDWARE = ("gpiozero", "sounddevice", "_sounddevice")
MAX_LINES = 400
# The test kits are imported by bare name (pytest's pythonpath): importing one is importing tests/.
TEST_MODULES = frozenset({"tests", *(p.stem for p in (REPO / "tests").rglob("*.py"))})
ON_TOP = frozenset({"demo", "bench"}) | TEST_MODULES

# Distribution (pyproject.toml) -> the top-level module it provides, where the names differ.
IMPORT_NAMES = {"paho-mqtt": "paho", "pyyaml": "yaml", "python-dateutil": "dateutil",
                "argon2-cffi": "argon2"}
# package -> the pyproject extras whose libraries it may import (besides the base dependencies)
EXTRAS_OF = {"radio_protocol": (), "hal": ("station", "pi"), "firmware_daemon": ("station", "pi"),
             "district_collector": ("district",)}
# package -> the first-party top-level names it must not import
FORBIDDEN: dict[str, frozenset[str]] = {
    "radio_protocol": frozenset({"hal", "firmware_daemon", "district_collector"}) | ON_TOP,
    "hal": frozenset({"firmware_daemon", "district_collector"}) | ON_TOP,  # radio_protocol only
    "firmware_daemon": frozenset({"district_collector"}) | ON_TOP,
    "district_collector": frozenset({"firmware_daemon", "hal"}) | ON_TOP,
}


@dataclass(frozen=True)
class ImportSite:
    """One import in one file: ``module`` is absolute (``level`` > 0 for a relative one)."""

    path: Path
    line: int
    module: str
    level: int = 0

    def __str__(self) -> str:
        dots = "." * self.level
        return f"{self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path}:" \
               f"{self.line} {dots}{self.module}"


def imports_in(path: Path) -> list[ImportSite]:
    """Every import in ``path``: ``import x``, ``from x import y`` (any depth, any block),
    ``from . import y``, ``importlib.import_module("x")``/``__import__("x")`` with a literal,
    and the literal strings of a ``COMMAND_MODULES`` list."""
    found: list[ImportSite] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [ImportSite(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(ImportSite(path, node.lineno, node.module or "", node.level))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append(ImportSite(path, node.lineno, node.args[0].value))
        elif isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "COMMAND_MODULES" for t in targets) \
                    and isinstance(node.value, ast.List | ast.Tuple):
                found += [ImportSite(path, item.lineno, item.value) for item in node.value.elts
                          if isinstance(item, ast.Constant) and isinstance(item.value, str)]
    return found


@functools.cache
def python_files(top: str) -> tuple[Path, ...]:
    return tuple(sorted(p for p in (REPO / top).rglob("*.py") if "__pycache__" not in p.parts))


@functools.cache
def package_imports(top: str) -> tuple[ImportSite, ...]:
    return tuple(site for path in python_files(top) for site in imports_in(path))


def _report(what: str, sites: list[ImportSite]) -> str:
    return f"{what} ({len(sites)}):\n  " + "\n  ".join(map(str, sites))


def test_architecture_scanner_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from __future__ import annotations\n"
        "import os, gpiozero.pins\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from ..up import thing\n"
        "if TYPE_CHECKING:\n    from firmware_daemon.config import StationConfig\n"
        "def f():\n    import hal.audio\n    return importlib.import_module('bench.run')\n"
        "COMMAND_MODULES: list[str] = ['district_collector.commands.core']\n",
        encoding="utf-8")
    assert sorted((s.level, s.module) for s in imports_in(sample)) == [
        (0, "__future__"), (0, "bench.run"), (0, "district_collector.commands.core"),
        (0, "firmware_daemon.config"), (0, "gpiozero.pins"), (0, "hal.audio"), (0, "os"),
        (0, "typing"), (1, ""), (2, "up")]


@pytest.mark.parametrize("top", TOP_DIRS)
def test_architecture_scans_real_code(top: str) -> None:
    """Each rule below would pass vacuously on an empty or renamed directory."""
    assert len(python_files(top)) >= 3, f"{top}/ has almost no Python files: was it moved?"
    assert package_imports(top)


@pytest.mark.parametrize("package", PROGRAM_PACKAGES)
def test_architecture_import_graph_points_one_way(package: str) -> None:
    forbidden = FORBIDDEN[package]
    offending = [s for s in package_imports(package) if s.module.split(".")[0] in forbidden]
    assert not offending, _report(f"{package} may not import {', '.join(sorted(forbidden - TEST_MODULES))} "
                                  "or the tests", offending)


def _modules_of(requirements: list[str]) -> set[str]:
    names = {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower() for req in requirements}
    return {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in names}


@pytest.mark.parametrize("package", PROGRAM_PACKAGES)
def test_architecture_third_party_imports_are_in_the_program_extra(package: str) -> None:
    """A library a package imports is in the base dependencies or in that program's extra
    (pyproject.toml): ``pip install '.[station]'`` on a Pi and ``'.[district]'`` on the
    server then have every library their code needs (radio_protocol: the base only)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    allowed = _modules_of(project["dependencies"])
    for extra in EXTRAS_OF[package]:
        allowed |= _modules_of(project["optional-dependencies"][extra])
    first_party = set(TOP_DIRS) | TEST_MODULES
    offending = [s for s in package_imports(package) if not s.level
                 and (top := s.module.split(".")[0]) not in sys.stdlib_module_names
                 and top not in first_party and top not in allowed]
    assert not offending, _report(f"{package} imports libraries outside its dependencies "
                                  f"({', '.join(sorted(allowed))})", offending)


@pytest.mark.parametrize("top", ("radio_protocol", "firmware_daemon", "district_collector", "demo", "bench"))
def test_architecture_only_hal_imports_hardware_libraries(top: str) -> None:
    offending = [s for s in package_imports(top) if s.module.split(".")[0] in HARDWARE]
    assert not offending, _report(f"only hal/ may import {', '.join(HARDWARE)}", offending)


@pytest.mark.parametrize("top", TOP_DIRS)
def test_architecture_no_relative_imports(top: str) -> None:
    offending = [s for s in package_imports(top) if s.level]
    assert not offending, _report("imports must be absolute", offending)


@pytest.mark.parametrize("top", TOP_DIRS)
def test_architecture_no_file_over_400_lines(top: str) -> None:
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in python_files(top)}
    over = sorted(f"{path.relative_to(REPO)}: {lines}" for path, lines in sizes.items() if lines > MAX_LINES)
    assert not over, f"files over {MAX_LINES} lines (split them by concern):\n  " + "\n  ".join(over)


def test_architecture_programs_do_not_name_each_other() -> None:
    """Not even in docstrings: each program is described in its own and radio_protocol's terms."""
    for package, other in (("firmware_daemon", "district_collector"), ("district_collector", "firmware_daemon")):
        named = [str(path.relative_to(REPO)) for path in python_files(package)
                 if other in path.read_text(encoding="utf-8")]
        assert named == [], f"{package} names {other} in {named}"
