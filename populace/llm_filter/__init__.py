"""Plausibility scorers for attribute combinations (the LLM filter of DESIGN.md section 4).

A scorer judges combinations of attribute levels; the judgements enter the log-linear
model as ``eta_c += w * s_c`` with a learned weight ``w >= 0`` (``llm_weight``), so the
data can overrule them. Rules stay structural zeros. See :mod:`.assemble` for how
scores become terms, :mod:`.language_model` for the causal-LM scorer, :mod:`.template`
for prompt templates and :mod:`.cache` for the persistent score cache.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from populace.llm_filter.assemble import least_plausible
from populace.llm_filter.build import build_scorer, spec_terms
from populace.llm_filter.scorers import CallableScorer, FilterOptions, RulesOnlyScorer, register_scorer


class PlausibilityScorer(Protocol):
    """Anything that scores combinations of attribute levels.

    ``score`` takes combinations as mappings from attribute name to level and returns
    one log plausibility per combination, each ``<= 0`` and finite. Optional attributes:
    ``cache_id`` (a string; turns on the score cache) and ``ordered`` (True when the
    order of attributes in a combination matters, as for a language model).
    """

    def score(self, combinations: Sequence[Mapping[str, str]]) -> np.ndarray:
        """Log plausibility of each combination."""
        ...


__all__ = [
    "CallableScorer",
    "FilterOptions",
    "PlausibilityScorer",
    "RulesOnlyScorer",
    "build_scorer",
    "least_plausible",
    "register_scorer",
    "spec_terms",
]
