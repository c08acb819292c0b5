"""The scorers that ship with populace, the registry of named ones, and building one from a spec.

- ``rules-only``: every combination scores 0, so the filter adds nothing; the spec's
  rules stay structural zeros. The baseline to compare a filter against.
- ``causal-lm``: :class:`populace.llm_filter.language_model.LanguageModelScorer`.
- any name registered with :func:`register_scorer` (or through the ``populace.scorers``
  entry-point group), and any object passed to ``pp.fit(..., scorer=...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata

import numpy as np

from populace.errors import SpecError

BUILT_IN = ("causal-lm", "rules-only")
MODES = ("contrastive", "yes-no")
WEIGHTS = ("single", "per-pair")
ORDERS = ("pairs", "full")
# The documented default model: the best scorer on the labelled plausibility set
# (benchmarks/plausibility.py, BENCHMARKS.md).
DEFAULT_MODEL = "gemma3-270m"
DEFAULT_CACHE = ".populace-cache.sqlite"
ENTRY_POINT_GROUP = "populace.scorers"

_REGISTRY: dict[str, Callable[[], object]] = {}


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilterOptions:
    """The spec's ``llm_filter`` block, checked.

    Attributes
    ----------
    scorer
        ``causal-lm``, ``rules-only`` or a registered name.
    model
        For ``causal-lm``: a packaged model name, a GGUF file or a transformers folder
        (relative paths are relative to the spec). Default :data:`DEFAULT_MODEL`.
    mode
        ``contrastive`` or ``yes-no``.
    cache
        SQLite score cache (relative to the spec).
    template
        A prompt template YAML file (relative to the spec); None: the built-in one.
    weights
        ``single``: one learned weight for all plausibility terms; ``per-pair``: one each.
    order
        ``pairs`` (scales with attributes) or ``full`` (every cell; small grids).
    """

    scorer: str = "causal-lm"
    model: str = DEFAULT_MODEL
    mode: str = "contrastive"
    cache: str = DEFAULT_CACHE
    template: str | None = None
    weights: str = "single"
    order: str = "pairs"

    @classmethod
    def from_mapping(cls, block: Mapping[str, str], where: str) -> FilterOptions:
        """Build and check options from the spec's block; ``where`` names the spec in errors."""
        options = cls(**{k: str(v) for k, v in block.items()})
        for key, allowed in (("mode", MODES), ("weights", WEIGHTS), ("order", ORDERS)):
            value = getattr(options, key)
            if value not in allowed:
                raise SpecError(f"{where}: llm_filter.{key} '{value}' is unknown (use one of {', '.join(allowed)})")
        return options

    def to_mapping(self) -> dict[str, str]:
        """The non-default fields, as the spec block."""
        defaults = FilterOptions()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(defaults, f.name)
        } or {"scorer": self.scorer}


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
