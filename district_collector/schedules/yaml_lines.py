"""YAML for office staff: safe loading that keeps each key's line, and problems that cite it.

:func:`load_yaml` reads a file with a :class:`yaml.SafeLoader` subclass that

- records the line of every mapping and of each of its keys (:func:`line_of`), so a
  problem can say ``catalogue.yaml:14: slots[2].at: ...``;
- refuses a key given twice in one mapping (YAML would silently keep the last one: a
  lost line of the office's);
- reads ``17:00`` as the text ``"17:00"``, not the base-60 integer 1020;
- lets no Python exception out (:func:`~radio_protocol.yaml_read.harden_loader`): an
  impossible date such as ``2026-02-30`` stays text, a :class:`NotADate`, for the reader
  of its key to report with the line.

Errors are :class:`~radio_protocol.errors.ConfigError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from radio_protocol.errors import ConfigError
from radio_protocol.yaml_read import NotADate, harden_loader

__all__ = ["Lines", "NotADate", "Problems", "line_of", "load_yaml"]


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers and reads ``17:00`` as text, not base-60."""


class Lines(dict):  # type: ignore[type-arg]
    """A mapping read from YAML: ``line`` of the mapping, ``lines[key]`` of each key (1-based)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    data = Lines()
    data.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):  # "? [a]": a list or mapping as a key
            raise yaml.constructor.ConstructorError(None, None, f"a key must be a name, got {key!r}",
                                                    key_node.start_mark)
        if key in data:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {data.lines[key]})", key_node.start_mark)
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = key_node.start_mark.line + 1
    return data


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> Any:
    if ":" in str(node.value):
        return str(node.value)
    return loader.construct_yaml_int(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)  # type: ignore[arg-type]
harden_loader(_Loader)


def line_of(obj: Any, key: Any = None) -> int:
    """The line of ``obj`` (a mapping read by :func:`load_yaml`) or of its ``key``; 0 if unknown."""
    if isinstance(obj, Lines):
        return obj.lines.get(key, obj.line) if key is not None else obj.line
    return 0


class Problems:
    """Collects ``file:line: key: message`` lines, to be raised all at once."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, line: int, key: str, message: str) -> None:
        self.items.append(f"{self.source}:{line}: {key}: {message}")


def load_yaml(path: Path) -> Any:
    """The YAML document in ``path``; raises ConfigError (not found, unreadable, invalid)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: file not found"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError([f"{path}:{mark.line + 1 if mark else 0}: invalid YAML: "
                           f"{getattr(exc, 'problem', None) or exc}"]) from exc
