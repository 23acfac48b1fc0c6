"""How a bundle's signed ``report.json`` differs from the report ``verify`` recomputes.

:func:`report_differences` walks both JSON values together and names each member that
differs by its path (``communes[0].criteria.1.5 says 20, the events give 0``), at most
:data:`MAX_DIFFS` lines, so a reader sees where a changed bundle and its events part ways.
"""

from __future__ import annotations

import json
from typing import Any

from district_collector.evidence.bundle import REPORT

MAX_DIFFS = 25


def report_differences(said: Any, recomputed: Any) -> list[str]:
    """One line per differing member of ``said`` (the signed report) and ``recomputed``
    (in member order, then the recomputed report's extra members); empty when equal."""
    out: list[str] = []
    _diff(said, recomputed, "", out)
    return out


def _diff(said: Any, recomputed: Any, path: str, out: list[str]) -> None:
    if len(out) >= MAX_DIFFS or said == recomputed:
        return
    if isinstance(said, dict) and isinstance(recomputed, dict):
        for key in list(said) + [k for k in recomputed if k not in said]:
            _diff(said.get(key, "(absent)"), recomputed.get(key, "(absent)"), f"{path}.{key}", out)
    elif isinstance(said, list) and isinstance(recomputed, list) and len(said) == len(recomputed):
        for i, (a, b) in enumerate(zip(said, recomputed, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif isinstance(said, list) and isinstance(recomputed, list):
        # Different lengths: name the count and the first entry that differs, not two
        # long prefixes that look alike.
        first = next((i for i, (a, b) in enumerate(zip(said, recomputed, strict=False)) if a != b),
                     min(len(said), len(recomputed)))
        out.append(f"{REPORT}: {path[1:]} lists {len(said)} entries, the events give {len(recomputed)}; "
                   f"first difference at [{first}]: says {_short(said[first:first + 1])}, "
                   f"the events give {_short(recomputed[first:first + 1])}")
    else:
        out.append(f"{REPORT}: {path[1:]} says {_short(said)}, the events give {_short(recomputed)}")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 240 else text[:237] + "..."
