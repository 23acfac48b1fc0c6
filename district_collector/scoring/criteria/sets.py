"""Criteria sets: which airings count, what makes a tier, and the points of each criterion.

The province's index changes from year to year, so its rules are data: a YAML file
(docs/scoring.md "Criteria files") read into a frozen :class:`CriteriaSet`, validated like
the configs (every problem at once, each naming the file and the key). The shipped
``default.yaml`` beside this module is the district letter's set (criteria 1.5, 1.6, 1.7);
:func:`default_criteria` reads it. A set travels in the evidence bundle as
``criteria.json`` (:meth:`CriteriaSet.json_bytes`, covered by the signed manifest), so
``verify`` recomputes the report with the rules that made it (:func:`parse_criteria`).

A criterion scores one ``level``: ``region`` (the configured region as a whole, every
station of it) or ``commune`` (each commune, its commune-level stations); by one ``rule``:
``has-airing`` (``points`` when the scope has at least ``min_airings`` counted airings in
the period) or ``tier`` (``points`` per tier ``weekly``/``monthly``/``none``, 0 when not
given). The tier needs at least ``tiers.weekly`` counted airings in every required ISO
week (``weekly``), else ``tiers.monthly`` in every required month (``monthly``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from radio_protocol.configschema import ConfigReader, load_yaml_file
from radio_protocol.errors import ConfigError

LEVELS = ("region", "commune")
RULES = ("has-airing", "tier")
TIERS = ("weekly", "monthly", "none")
_ID = r"[0-9A-Za-z][0-9A-Za-z._-]{0,15}"
_TOP = ("id", "name", "program", "tiers", "criteria")
_CRITERION = ("id", "level", "rule", "points", "min_airings", "text")
DEFAULT_FILE = "default.yaml"


@dataclass(frozen=True)
class Criterion:
    """One criterion: ``id`` (``1.5``), the ``level`` it scores, its ``rule``, ``points``
    (tier -> points for ``tier``; ``{"yes": n}`` for ``has-airing``), ``min_airings``
    (``has-airing``) and its wording in Vietnamese (of record) and English."""

    id: str
    level: str
    rule: str
    points: Mapping[str, int]
    text_vi: str
    text_en: str
    min_airings: int = 1

    @property
    def max_points(self) -> int:
        return max(self.points.values(), default=0)

    def score(self, tier: str, airings: int) -> int:
        """The points of a scope with this ``tier`` and number of counted ``airings``."""
        if self.rule == "has-airing":
            return self.points["yes"] if airings >= self.min_airings else 0
        return self.points.get(tier, 0)

    def text(self, lang: str) -> str:
        return self.text_vi if lang == "vi" else self.text_en

    def as_json(self) -> dict[str, Any]:
        points: object = self.points["yes"] if self.rule == "has-airing" else dict(self.points)
        out: dict[str, Any] = {"id": self.id, "level": self.level, "rule": self.rule, "points": points}
        if self.rule == "has-airing":
            out["min_airings"] = self.min_airings
        out["text"] = {"vi": self.text_vi, "en": self.text_en}
        return out


@dataclass(frozen=True)
class CriteriaSet:
    """A whole set (see the module docstring). ``source``: the file it was read from."""

    id: str
    name_vi: str
    name_en: str
    program: str
    weekly_min: int
    monthly_min: int
    criteria: tuple[Criterion, ...]
    source: str = ""

    def of_level(self, level: str) -> tuple[Criterion, ...]:
        """The criteria scoring ``level`` (``region`` or ``commune``), in file order."""
        return tuple(c for c in self.criteria if c.level == level)

    def scores(self, level: str, tier: str, airings: int) -> dict[str, int]:
        """Criterion id -> points, for a scope of ``level``: the report's ``criteria`` member."""
        return {c.id: c.score(tier, airings) for c in self.of_level(level)}

    @property
    def counts_airings(self) -> bool:
        """Whether a tier needs more than one airing a week or month (so week and month
        counts, not only which weeks and months were aired)."""
        return self.weekly_min > 1 or self.monthly_min > 1

    def name(self, lang: str) -> str:
        return self.name_vi if lang == "vi" else self.name_en

    def as_json(self) -> dict[str, Any]:
        """The set as a JSON object :func:`parse_criteria` reads back to an equal set."""
        return {"id": self.id, "name": {"vi": self.name_vi, "en": self.name_en}, "program": self.program,
                "tiers": {"weekly": self.weekly_min, "monthly": self.monthly_min},
                "criteria": [c.as_json() for c in self.criteria]}

    def json_bytes(self) -> bytes:
        """``criteria.json`` of an evidence bundle (UTF-8, indented, newline-terminated)."""
        return (json.dumps(self.as_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _text(r: ConfigReader, data: Mapping[str, Any], member: str, key: str) -> tuple[str, str]:
    t = r.mapping(data.get(member), key, ("vi", "en"))
    vi = r.get(t, key, "vi", str) if t else None
    en = r.get(t, key, "en", str) if t else None
    return str(vi or ""), str(en or "")


def _id(r: ConfigReader, data: Mapping[str, Any], key: str) -> str | None:
    value = data.get("id")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        r.error(f"{key}.id", f"write it in quotes (id: \"{value}\"): YAML reads {value} as a number")
        return None
    return r.get(data, key, "id", str, pattern=_ID)  # type: ignore[no-any-return]


def _points(r: ConfigReader, data: Mapping[str, Any], key: str, rule: str | None) -> dict[str, int]:
    raw = data.get("points")
    if rule == "has-airing":
        n = r.get(data, key, "points", int, minimum=0, maximum=1000)
        return {"yes": n if isinstance(n, int) else 0}
    p = r.mapping(raw, f"{key}.points", TIERS)
    return {tier: value for tier in TIERS
            if isinstance(value := r.get(p, f"{key}.points", tier, int, 0, minimum=0, maximum=1000), int)}


def _criterion(r: ConfigReader, data: object, key: str) -> Criterion | None:
    c = r.mapping(data, key, _CRITERION)
    if not c:
        return None
    cid = _id(r, c, key)
    level = r.get(c, key, "level", str, choices=LEVELS)
    rule = r.get(c, key, "rule", str, choices=RULES)
    points = _points(r, c, key, rule)
    min_airings = r.get(c, key, "min_airings", int, 1, minimum=1, maximum=100000)
    if "min_airings" in c and rule != "has-airing":
        r.error(f"{key}.min_airings", "only for rule has-airing (a tier's thresholds are the set's tiers)")
    vi, en = _text(r, c, "text", f"{key}.text")
    if not cid or level not in LEVELS or rule not in RULES:
        return None
    return Criterion(cid, level, rule, points, vi, en, min_airings if isinstance(min_airings, int) else 1)


def parse_criteria(data: object, source: str) -> CriteriaSet:
    """Validate a parsed criteria file (or a bundle's ``criteria.json``); ConfigError listing
    every problem, each naming ``source`` and the key."""
    r = ConfigReader(source)
    top = r.mapping(data, "", _TOP)
    sid = r.get(top, "", "id", str, pattern=r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}") if top else None
    name_vi, name_en = _text(r, top, "name", "name") if top else ("", "")
    program = r.get(top, "", "program", str, pattern=r"[a-z0-9][a-z0-9-]{0,63}") if top else None
    tiers = r.mapping(top.get("tiers"), "tiers", ("weekly", "monthly"), required=False) if top else {}
    weekly = r.get(tiers, "tiers", "weekly", int, 1, minimum=1, maximum=1000) if tiers else 1
    monthly = r.get(tiers, "tiers", "monthly", int, 1, minimum=1, maximum=10000) if tiers else 1
    raw = r.get(top, "", "criteria", list) if top else None
    criteria: list[Criterion] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw or []):
        entry = _criterion(r, item, f"criteria[{i}]")
        if entry is None:
            continue
        if entry.id in seen:
            r.error(f"criteria[{i}].id", f"{entry.id!r} is also criteria[{seen[entry.id]}]")
        seen[entry.id] = i
        criteria.append(entry)
    if raw is not None and not raw:
        r.error("criteria", "needs at least one criterion")
    r.finish()
    assert sid is not None and program is not None
    return CriteriaSet(sid, name_vi, name_en, program, weekly or 1, monthly or 1, tuple(criteria), source)


def load_criteria(path: Path | str) -> CriteriaSet:
    """Read and validate the criteria file at ``path`` (ConfigError on any problem)."""
    path = Path(path)
    return parse_criteria(load_yaml_file(path), str(path))


@lru_cache(maxsize=1)
def default_criteria() -> CriteriaSet:
    """The shipped letter's set (``default.yaml``, docs/scoring.md); read once."""
    text = resources.files(__package__ or "district_collector.scoring.criteria").joinpath(DEFAULT_FILE)
    try:
        import yaml

        data = yaml.safe_load(text.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # a broken install, not a user's mistake
        raise ConfigError([f"{DEFAULT_FILE}: the shipped criteria set cannot be read: {exc}"]) from exc
    return parse_criteria(data, f"(shipped) {DEFAULT_FILE}")


__all__ = ["LEVELS", "RULES", "TIERS", "CriteriaSet", "Criterion", "default_criteria", "load_criteria",
           "parse_criteria"]
