"""Turn a scorer's judgements into plausibility terms ``s`` for the log-linear model.

Scoring scales with attributes, not cells. For every pair of attributes (``order="pairs"``)
all level pairs are scored and the table is double-centred (row and column means
removed), so it holds only the pair's interaction: for a language model's
log-likelihoods that is ``log P(b | a) - log P(b | neutral)``, centred, i.e. a log odds
ratio. It is then shifted so its largest entry is 0 (DESIGN.md section 4); a constant
shift does not change the joint. With ``order="full"`` every cell is scored and all main
effects are removed; use it only for small grids (``FULL_LIMIT``).

Scores pass through the persistent SQLite cache (:mod:`populace.llm_filter.cache`) when
the scorer names itself with a ``cache_id``; each batch is stored as it is scored, so an
interrupted run keeps what it had.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import pathlib
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from populace.errors import DataError, SpecError
from populace.llm_filter.cache import open_cache
from populace.progress import bars

ORDERS = ("pairs", "full")
# Largest grid scored cell by cell with order="full".
FULL_LIMIT = 4096
# Combinations scored (and cached) per batch.
SCORE_BATCH = 64


@dataclasses.dataclass(frozen=True, kw_only=True)
class PlausibilityTerm:
    """One table of centred plausibility scores over the attributes ``names``.

    Attributes
    ----------
    names
        The attributes the table covers, in grid order.
    axes
        Their positions in the grid.
    table
        Scores ``<= 0`` with shape ``(levels of names[0], levels of names[1], ...)``.
    """

    names: tuple[str, ...]
    axes: tuple[int, ...]
    table: np.ndarray

    @property
    def label(self) -> str:
        """Name used for this term's weight, such as ``age:marital``."""
        return ":".join(self.names)


def scored(
    scorer: object,
    combinations: Sequence[Mapping[str, str]],
    *,
    cache: str | pathlib.Path | None = None,
    progress: bool = True,
    what: str = "scoring",
) -> np.ndarray:
    """Score combinations through the cache; check every score is finite and <= 0.

    Parameters
    ----------
    scorer
        Anything with ``score(combinations) -> array`` (see
        :class:`populace.llm_filter.PlausibilityScorer`). A ``cache_id`` attribute turns
        the cache on for it.
    combinations
        Mappings from attribute to level; their order is kept (it matters to a language
        model).
    cache
        Path of the SQLite score cache, or None for no cache.
    progress
        Show a progress bar on stderr.
    what
        Label of the progress bar.

    Raises
    ------
    DataError
        The scorer returned a positive or non-finite score, or the wrong number of them.
    """
    keys = [json.dumps(list(c.items()), ensure_ascii=False) for c in combinations]
    cache_id = getattr(scorer, "cache_id", None)
    use_cache = cache is not None and cache_id is not None
    # one connection for the whole scoring (opening one checks the file); one transaction per batch
    with open_cache(cache) if use_cache else contextlib.nullcontext() as store:
        found: dict[str, float] = store.get(cache_id, "scores", keys) if use_cache else {}
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            bar = _progress(len(todo), what, progress)
            for start in range(0, len(todo), SCORE_BATCH):
                chunk = todo[start : start + SCORE_BATCH]
                values = _checked(scorer, [combinations[i] for i in chunk])
                batch = {keys[i]: float(v) for i, v in zip(chunk, values)}
                if use_cache:
                    store.put(cache_id, "scores", batch)
                found.update(batch)
                bar.update(len(chunk))
            bar.close()
    return np.array([found[k] for k in keys])


def _checked(scorer: object, combinations: list[Mapping[str, str]]) -> np.ndarray:
    name = getattr(scorer, "cache_id", None) or type(scorer).__name__
    try:
        values = np.asarray(scorer.score(combinations), dtype=float)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        raise DataError(f"scorer {name} failed: {exc}") from None
    if values.shape != (len(combinations),):
        raise DataError(f"scorer {name} returned {values.size} scores for {len(combinations)} combinations")
    bad = np.flatnonzero(~np.isfinite(values) | (values > 0))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"scorer {name} returned {values[i]} for {dict(combinations[i])}; scores must be finite and <= 0"
        )
    return values


def _progress(total: int, what: str, on: bool):  # noqa: ANN202 - a tqdm bar
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"populace: {what}", unit="comb", disable=not bars(on), file=sys.stderr)


def plausibility_terms(
    attributes: Mapping[str, tuple[str, ...]],
    scorer: object,
    *,
    order: str = "pairs",
    skip: Sequence[tuple[str, str]] = (),
    cache: str | pathlib.Path | None = None,
    progress: bool = True,
) -> tuple[PlausibilityTerm, ...]:
    """Score attribute pairs (or whole cells) and return centred plausibility tables.

    Parameters
    ----------
    attributes
        The attributes to score, in grid order, with their levels.
    scorer
        A :class:`populace.llm_filter.PlausibilityScorer`. When it has ``ordered = True``
        (a language model), each pair is scored in both orders and averaged.
    order
        ``pairs`` or ``full``.
    skip
        Attribute pairs left out (for example pairs an exact table fixes).
    cache, progress
        As in :func:`scored`.

    Returns
    -------
    tuple of PlausibilityTerm
        One per scored pair (or one over all attributes); ``axes`` index ``attributes``.

    Examples
    --------
    >>> class Young:  # retirement is implausible at 20
    ...     def score(self, combos):
    ...         return [-3.0 if c.get("age") == "20" and c.get("work") == "retired" else 0.0 for c in combos]
    >>> terms = plausibility_terms({"age": ("20", "70"), "work": ("job", "retired")}, Young(), progress=False)
    >>> terms[0].table.round(2).tolist()  # a log odds ratio: the 70-year-old with a job pays too
    [[0.0, -1.5], [-1.5, 0.0]]
    """
    if order not in ORDERS:
        raise SpecError(f"llm_filter.order '{order}' is unknown (use one of {', '.join(ORDERS)})")
    names = list(attributes)
    if order == "full":
        return (_full_term(attributes, scorer, cache, progress),)
    skipped = {frozenset(p) for p in skip}
    pairs = [(a, b) for a, b in itertools.combinations(names, 2) if frozenset((a, b)) not in skipped]
    both = bool(getattr(scorer, "ordered", False))
    combos: list[dict[str, str]] = []
    for a, b in pairs:
        for la, lb in itertools.product(attributes[a], attributes[b]):
            combos.append({a: la, b: lb})
            if both:
                combos.append({b: lb, a: la})
    values = scored(scorer, combos, cache=cache, progress=progress, what=f"scoring {len(pairs)} attribute pairs")
    terms = []
    position = 0
    step = 2 if both else 1
    for a, b in pairs:
        shape = (len(attributes[a]), len(attributes[b]))
        count = int(np.prod(shape)) * step
        block = values[position : position + count].reshape(shape[0], shape[1], step).mean(axis=2)
        position += count
        table = double_centre(block)
        terms.append(PlausibilityTerm(names=(a, b), axes=(names.index(a), names.index(b)), table=table - table.max()))
    return tuple(terms)


def _full_term(
    attributes: Mapping[str, tuple[str, ...]], scorer: object, cache: str | pathlib.Path | None, progress: bool
) -> PlausibilityTerm:
    names = tuple(attributes)
    shape = tuple(len(attributes[n]) for n in names)
    cells = math.prod(shape)
    if cells > FULL_LIMIT:
        raise SpecError(
            f"llm_filter.order 'full' scores every cell, and this grid has {cells:,} (limit {FULL_LIMIT:,}); "
            "use order: pairs"
        )
    combos = [dict(zip(names, levels)) for levels in itertools.product(*(attributes[n] for n in names))]
    values = scored(scorer, combos, cache=cache, progress=progress, what=f"scoring {cells:,} cells").reshape(shape)
    table = remove_main_effects(values)
    return PlausibilityTerm(names=names, axes=tuple(range(len(names))), table=table - table.max())


def double_centre(table: np.ndarray) -> np.ndarray:
    """Remove row and column means (the interaction part of a two-way table)."""
    return table - table.mean(axis=0, keepdims=True) - table.mean(axis=1, keepdims=True) + table.mean()


def remove_main_effects(table: np.ndarray) -> np.ndarray:
    """Remove every one-way main effect of a full table, keeping all interactions."""
    grand = table.mean()
    out = table - grand
    for axis in range(table.ndim):
        others = tuple(a for a in range(table.ndim) if a != axis)
        out = out - (table.mean(axis=others, keepdims=True) - grand)
    return out


def least_plausible(terms: Sequence[PlausibilityTerm], attributes: Mapping[str, tuple[str, ...]], top: int) -> list:
    """The ``top`` lowest-scored level combinations over all terms: (description, score)."""
    rows = []
    for term in terms:
        for index in np.ndindex(term.table.shape):
            text = ", ".join(f"{n}={attributes[n][i]}" for n, i in zip(term.names, index))
            rows.append((text, float(term.table[index])))
    rows.sort(key=lambda r: r[1])
    return rows[:top]
