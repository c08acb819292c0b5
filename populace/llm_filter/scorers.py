"""The scorers that ship with populace, the registry of named ones, and building one from a spec.

- ``rules-only``: every combination scores 0, so the filter adds nothing; the spec's
  rules stay structural zeros. The baseline to compare a filter against.
- ``causal-lm``: :class:`populace.llm_filter.language_model.LanguageModelScorer`.
- any name registered with :func:`register_scorer` (or through the ``populace.scorers``
  entry-point group), and any object passed to ``pp.fit(..., scorer=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import metadata

import numpy as np

from populace.spec import DEFAULT_CACHE, DEFAULT_MODEL, MODES, ORDERS, WEIGHTS, FilterOptions

__all__ = ["DEFAULT_CACHE", "DEFAULT_MODEL", "MODES", "ORDERS", "WEIGHTS", "FilterOptions"]

BUILT_IN = ("causal-lm", "rules-only")
ENTRY_POINT_GROUP = "populace.scorers"

_REGISTRY: dict[str, Callable[[], object]] = {}


class RulesOnlyScorer:
    """Scores every combination 0: no plausibility information beyond the rules."""

    cache_id = None

    def score(self, combinations: Sequence[Mapping[str, str]]) -> np.ndarray:
        """Zeros."""
        return np.zeros(len(combinations))


class CallableScorer:
    """Wraps a function ``f(combination) -> log plausibility`` as a scorer."""

    def __init__(self, function: Callable[[Mapping[str, str]], float], name: str | None = None) -> None:
        self.function = function
        self.cache_id = None
        self.name = name or getattr(function, "__name__", "callable")

    def score(self, combinations: Sequence[Mapping[str, str]]) -> np.ndarray:
        """The function applied to each combination."""
        return np.array([float(self.function(c)) for c in combinations])


def register_scorer(name: str, factory: Callable[[], object]) -> None:
    """Make ``llm_filter: {scorer: name}`` build a scorer with ``factory()``."""
    if name in BUILT_IN:
        raise ValueError(f"'{name}' is a built-in scorer name")
    _REGISTRY[name] = factory


def registered(name: str) -> Callable[[], object] | None:
    """The factory registered under ``name`` (here or as an entry point), or None."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry.load()
    return None
