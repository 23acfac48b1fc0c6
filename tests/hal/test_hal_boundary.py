"""hal/ is the only package that touches the hardware libraries (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HARDWARE = ("gpiozero", "sounddevice", "_sounddevice", "RPi", "lgpio", "pigpio")
PACKAGES = ("firmware_daemon", "district_collector", "radio_protocol")


def hardware_imports(path: Path) -> list[str]:
    """``file:line module`` for every import of a hardware library (top level or nested,
    ``import x``, ``from x.y import z``, ``importlib.import_module("x")``/``__import__``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"{path.name}:{getattr(node, 'lineno', 0)} {name}" for name in names
                  if name.split(".")[0] in HARDWARE]
    return found


def test_hal_boundary_scanner_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nimport gpiozero.pins\nfrom sounddevice import play\n"
                      "def f():\n    import lgpio\n    return importlib.import_module('pigpio')\n",
                      encoding="utf-8")
    assert sorted(hit.split(" ")[1] for hit in hardware_imports(sample)) == \
        ["gpiozero.pins", "lgpio", "pigpio", "sounddevice"]


@pytest.mark.parametrize("package", PACKAGES)
def test_hal_boundary_nothing_outside_hal_imports_hardware(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    offending = [f"{path.parent.relative_to(REPO)}/{hit}" for path in files
                 for hit in hardware_imports(path)]
    assert offending == [], "only hal/ may import hardware libraries: " + ", ".join(offending)
