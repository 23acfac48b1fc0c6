"""The import graph points one way: radio_protocol at the bottom, hal beside it, the two
programs above and neither importing the other (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "radio_protocol": ("firmware_daemon", "district_collector", "hal", "demo", "bench"),
    "hal": ("firmware_daemon", "district_collector", "demo", "bench"),
    "firmware_daemon": ("district_collector", "demo", "bench"),
    "district_collector": ("firmware_daemon", "demo", "bench"),
}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """``(line, top-level package)`` of every absolute import in ``path``, nested ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    offending = [f"{path.relative_to(REPO)}:{line} imports {name}" for path in files
                 for line, name in imported_packages(path) if name in FORBIDDEN[package]]
    assert offending == [], "; ".join(offending)


def test_imports_the_programs_do_not_name_each_other() -> None:
    """Not even in docstrings: each program is described in its own and radio_protocol's terms."""
    for package, other in (("firmware_daemon", "district_collector"), ("district_collector", "firmware_daemon")):
        named = [str(path.relative_to(REPO)) for path in sorted((REPO / package).rglob("*.py"))
                 if other in path.read_text(encoding="utf-8")]
        assert named == [], f"{package} names {other} in {named}"
