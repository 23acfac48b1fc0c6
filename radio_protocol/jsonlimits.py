"""JSON from outside, parsed within bounds (docs/protocol.md, "Bounds").

:func:`loads_bounded` refuses, before the decoder runs, a document over its size limit or
nested deeper than :data:`~radio_protocol.names.MAX_JSON_DEPTH` (Python's decoder recurses:
a few thousand ``[`` would raise RecursionError from deep inside it), and, while parsing,
the non-JSON constants ``NaN``/``Infinity`` that Python's decoder would otherwise accept.
Every refusal is a :class:`JsonLimitError`, which is also a ValueError so a caller's
``except ValueError`` around ``json.loads`` keeps covering it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from radio_protocol.errors import CommuneRadioError
from radio_protocol.names import MAX_JSON_DEPTH

__all__ = ["JsonLimitError", "json_depth", "loads_bounded"]

# The next bracket or quote; after a quote, the rest of that string (escapes included,
# possessive: each character is looked at once, so the scan is linear in the length).
_NEXT = re.compile(r'[\[\]{}"]')
_STRING_REST = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)


class JsonLimitError(CommuneRadioError, ValueError):
    """A JSON document that is too large, too deeply nested, or not strict JSON."""


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep arrays/objects nest in ``text``: at most ``limit`` means the decoder
    recurses no deeper than the returned number (a text with few brackets returns their
    count, an upper bound); more than ``limit`` means deeper than ``limit`` (the scan stops
    there). Linear in the length; does not validate the JSON."""
    brackets = text.count("[") + text.count("{")
    if brackets <= limit:  # the common case: no scan
        return brackets
    depth = deepest = pos = 0
    while (match := _NEXT.search(text, pos)) is not None:
        token, pos = match.group(), match.end()
        if token == '"':
            rest = _STRING_REST.match(text, pos)
            if rest is None:  # unterminated: the decoder stops there, no deeper
                break
            pos = rest.end()
        elif token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


# One decoder for every call: json.loads with a keyword builds a new one each time, which
# costs as much as decoding a small document (the collector decodes three per event).
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def loads_bounded(data: bytes | str, max_bytes: int | None = None, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` of ``data`` (UTF-8 when bytes) within bounds.

    Raises JsonLimitError for more than ``max_bytes`` bytes (when given), nesting deeper
    than ``max_depth`` or a NaN/Infinity constant; ValueError (UnicodeDecodeError or
    json.JSONDecodeError) for what is not UTF-8 JSON at all. Never RecursionError.
    """
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if max_bytes is not None and size > max_bytes:
        raise JsonLimitError(f"{size} bytes, limit {max_bytes}")
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    depth = json_depth(text, max_depth)
    if depth > max_depth:
        raise JsonLimitError(f"nested more than {max_depth} levels deep")
    try:
        return _DECODER.decode(text)
    except RecursionError as exc:  # not reachable within max_depth; never let it escape
        raise JsonLimitError(f"nested too deeply: {exc}") from exc
