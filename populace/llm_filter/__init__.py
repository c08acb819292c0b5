"""Plausibility scorers for attribute combinations (the LLM filter of DESIGN.md section 4).

This release defines only the interface the model will use; the scorers (rules-only,
causal language model, user callables) and their cache come with the filter itself.
A spec with an ``llm_filter`` block is refused until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class PlausibilityScorer(Protocol):
    """Anything that scores combinations of attribute levels.

    ``score`` takes combinations as mappings from attribute name to level and returns
    one log plausibility per combination, each ``<= 0`` and finite.
    """

    def score(self, combinations: Sequence[dict[str, str]]) -> np.ndarray:
        """Log plausibility of each combination."""
        ...
