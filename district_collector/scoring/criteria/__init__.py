"""Criteria sets as data (see :mod:`district_collector.scoring.criteria.sets`); the shipped
letter's set is ``default.yaml`` in this package."""

from district_collector.scoring.criteria.sets import (
    LEVELS,
    RULES,
    TIERS,
    CriteriaSet,
    Criterion,
    default_criteria,
    load_criteria,
    parse_criteria,
)

__all__ = ["LEVELS", "RULES", "TIERS", "CriteriaSet", "Criterion", "default_criteria", "load_criteria",
           "parse_criteria"]
