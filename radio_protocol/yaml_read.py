"""YAML as people write it: no Python exception escapes a loader, and problems find their line.

PyYAML's safe loader reads ``2026-02-30`` as a timestamp and lets ``date()``'s ValueError
out with no file or line; an explicit tag on the wrong text (``!!int abc``) does the same.
:func:`harden_loader` fixes both on a loader class:

- a date-like scalar that is no real date stays text, as :class:`NotADate` (a ``str``
  that carries the reason), so the code reading that key can say which key is wrong;
- any other error while building a value becomes a ``yaml.constructor.ConstructorError``
  with the node's line, which the callers already turn into ``file:line: invalid YAML``.

:func:`key_line` finds the line of a dotted key (``mqtt.tls.ca``, ``stations[2].keys``)
in a file's text, for problems found after loading (only on the error path: it parses the
file again, slowly, keeping every node's position).
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class NotADate(str):
    """Text that YAML would read as a date but that names no real day (``2026-02-30``).

    ``reason`` is why (Python's ``day is out of range for month``)."""

    reason: str = ""


def _timestamp_or_text(loader: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        text = NotADate(str(node.value))
        text.reason = str(exc) or type(exc).__name__
        return text


def _construct_object(self: yaml.constructor.BaseConstructor, node: yaml.Node, deep: bool = False) -> Any:
    try:
        return yaml.constructor.SafeConstructor.construct_object(self, node, deep)  # type: ignore[arg-type]
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read {node.tag.rsplit(':', 1)[-1]} value {str(node.value)[:60]!r}: {exc}",
            node.start_mark) from exc


def harden_loader(cls: type[Any]) -> type[Any]:
    """Give a SafeLoader (or CSafeLoader) subclass the behaviour in the module doc; returns it."""
    cls.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
    cls.construct_object = _construct_object
    return cls


_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SafeTextLoader(_BASE):  # type: ignore[misc, valid-type]
    """The safe loader (in C where libyaml is there), hardened by :func:`harden_loader`."""


harden_loader(SafeTextLoader)

_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def key_line(text: str, dotted_key: str) -> int | None:
    """The 1-based line of ``dotted_key`` in the YAML ``text``: of the key itself when it is
    there, else of the deepest enclosing mapping or list found; None when the text does not
    parse or the key's first part is not in it."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line: int | None = None
    for name, index in _PART_RE.findall(dotted_key):
        if isinstance(node, yaml.MappingNode) and name:
            found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == name), None)
            if found is None:
                return line
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and index:
            i = int(index)
            if i >= len(node.value):
                return line
            node = node.value[i]
            line = node.start_mark.line + 1
        else:
            return line
    return line
