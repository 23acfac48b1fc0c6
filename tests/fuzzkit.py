"""Shared pieces of the fuzz targets (tests/*/test_fuzz_*.py, bench/fuzz.py).

A target feeds one parser that takes bytes from outside with Hypothesis-generated input
and lets exactly one kind of exception through: the module's own declared error. Anything
else fails the test (Hypothesis shrinks it to a minimal input). :class:`FuzzRecorder`
counts the cases and the outcomes (``ok`` or the declared error's reason) per target; each
target's counts are written to ``$CR_FUZZ_COUNTS`` (a directory, set once per run by
tests/conftest.py so pytest-xdist workers share it) and printed by the terminal summary.

Profiles (``CR_FUZZ_PROFILE``): ``ci`` (default: ``CR_FUZZ_EXAMPLES`` cases per target,
2,000 unless set; derandomized and without an example database, so a run is reproducible)
and ``bench`` (``bench/fuzz.py``: 100,000 cases per target, ``CR_FUZZ_EXAMPLES`` if set,
randomized so each run explores further).
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

COUNTS_ENV = "CR_FUZZ_COUNTS"
CI_EXAMPLES = int(os.environ.get("CR_FUZZ_EXAMPLES", "2000"))
BENCH_EXAMPLES = 100_000
_COMMON: dict[str, Any] = {
    "deadline": None, "database": None, "derandomize": True, "print_blob": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                              HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
settings.register_profile("ci", max_examples=CI_EXAMPLES, **_COMMON)
settings.register_profile("bench", max_examples=int(os.environ.get("CR_FUZZ_EXAMPLES", BENCH_EXAMPLES)),
                          **{**_COMMON, "derandomize": False})
settings.load_profile(os.environ.get("CR_FUZZ_PROFILE", "ci"))


def scaled(fraction: float) -> settings:
    """Settings for a slow target: in CI ``fraction`` of the profile's cases (at least 50);
    under the ``bench`` profile every target runs all of them."""
    if os.environ.get("CR_FUZZ_PROFILE") == "bench":
        return settings(max_examples=settings.default.max_examples)
    return settings(max_examples=max(50, int(settings.default.max_examples * fraction)))


class FuzzRecorder:
    """Counts one target's cases by outcome; lets only ``allowed`` exceptions pass."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.outcomes: Counter[str] = Counter()

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())

    @contextmanager
    def case(self, *allowed: type[BaseException], reason: Callable[[BaseException], str] | None = None,
             ) -> Iterator[None]:
        """One case: ``ok`` if the block returns, the error's name (and reason) if it raises
        one of ``allowed``; anything else propagates (the target fails)."""
        try:
            yield
        except allowed as exc:
            why = reason(exc) if reason else getattr(exc, "reason", "")
            self.outcomes[f"{type(exc).__name__}{':' + str(why) if why else ''}"] += 1
        else:
            self.outcomes["ok"] += 1

    def save(self) -> None:
        """Add this target's counts to the run's counts directory (if there is one)."""
        directory = os.environ.get(COUNTS_ENV)
        if not directory:
            return
        path = Path(directory) / f"{self.target}.{os.getpid()}.json"
        path.write_text(json.dumps({"target": self.target, "cases": self.cases,
                                    "outcomes": dict(self.outcomes)}), encoding="utf-8")


def read_counts(directory: Path) -> dict[str, Counter[str]]:
    """Every target's outcome counts written under ``directory``, summed per target."""
    totals: dict[str, Counter[str]] = {}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        totals.setdefault(data["target"], Counter()).update(data["outcomes"])
    return totals


def format_counts(totals: dict[str, Counter[str]]) -> list[str]:
    """One line per target: cases, then the outcomes most frequent first."""
    lines = []
    for target, outcomes in sorted(totals.items()):
        shown = ", ".join(f"{name} {count}" for name, count in outcomes.most_common(6))
        more = len(outcomes) - 6
        lines.append(f"{target}: {sum(outcomes.values())} cases ({shown}{f', +{more} more' if more > 0 else ''})")
    return lines


# --- strategies ------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON_VALUES = JSON_SCALARS | st.lists(JSON_SCALARS, max_size=3) | st.dictionaries(
    st.sampled_from(["a", "id", "x"]), JSON_SCALARS, max_size=3)
"""Any JSON value (the kinds a decoder can return), small."""
EDGE_VALUES = st.sampled_from([None, True, 0, -1, 2**63 - 1, 2**63, -(2**63), 10**30, 1.5, 1e308, "",
                               "x" * 700, "2024-03-05T06:30:00+07:00", "0001-01-01T00:00:00+14:00",
                               "9999-12-31T23:59:59-14:00", [], {}, ["cds-a"], {"a": 1}])
MEMBER_VALUES = EDGE_VALUES | JSON_VALUES


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], depth: int = 2) -> dict[str, Any]:
    """``base`` with a few members (nested up to ``depth``) replaced, added or removed."""
    out = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        node = out
        for _ in range(draw(st.integers(0, depth))):
            children = [k for k, v in node.items() if isinstance(v, dict)]
            lists = [v for v in node.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
            if lists and draw(st.booleans()):
                node = draw(st.sampled_from(lists))[0]
            elif children:
                node = node[draw(st.sampled_from(sorted(children)))]
        key = draw(st.sampled_from(sorted(node) + ["extra"])) if node else "extra"
        if draw(st.integers(0, 5)) == 0:
            node.pop(key, None)
        else:
            node[key] = copy.deepcopy(draw(MEMBER_VALUES))  # sampled values are shared objects
    return out


def json_bytes(p: Any) -> bytes:
    """``canonical_json(p)``, or the example rejected when ``p`` holds NaN/Infinity: those
    are not JSON and canonical_json refuses them, so no signer of ours can send them (the
    byte-level targets feed them to the readers instead)."""
    from hypothesis import assume

    from radio_protocol.jose import canonical_json

    try:
        return canonical_json(p)
    except ValueError:
        assume(False)
        raise  # unreachable: assume(False) ends the example
