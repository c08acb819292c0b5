"""Which log-linear terms a model needs, given the exact tables.

An exact table fixes its margin, so every term inside its attributes is set by the
projection (:mod:`populace.models.projection`) and gets no parameter of its own: only
interactions the exact tables leave free are sampled. This removes the ridge that exact
counts put into the posterior (DESIGN.md section 5).
"""

from __future__ import annotations

import dataclasses
import itertools

from populace.spec import Spec

MAIN, INTERACTION, GEOGRAPHY = "main", "interaction", "geography"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Term:
    """A main effect or interaction over ``axes`` (grid positions, increasing)."""

    axes: tuple[int, ...]
    kind: str

    def name(self, spec: Spec) -> str:
        """A readable name such as ``region:education``."""
        return ":".join(spec.names[a] for a in self.axes)


def model_terms(spec: Spec, exact_axes: list[tuple[int, ...]]) -> tuple[Term, ...]:
    """List the free terms of a log-linear model.

    Parameters
    ----------
    spec
        The spec (attributes, their roles and the interaction order).
    exact_axes
        The attribute positions of every exact table.

    Returns
    -------
    tuple of Term
        Main effects of attributes no exact table covers, interactions up to
        ``spec.model.interactions`` not inside an exact table, and for each geography
        attribute its interaction with every free pair (area-varying pair effects,
        pooled toward the national ones).

    Examples
    --------
    >>> terms = model_terms(spec, [(0, 1), (0, 2), (5,)])  # the example's exact tables
    >>> [t.name(spec) for t in terms][:5]  # region, ethnicity, smsa and wage mains are fixed
    ['parttime', 'education', 'region:parttime', 'region:education', 'region:wage']
    """
    covered = [frozenset(a) for a in exact_axes]

    def free(axes: tuple[int, ...]) -> bool:
        return not any(set(axes) <= c for c in covered)

    n = len(spec.attributes)
    terms = [Term(axes=(a,), kind=MAIN) for a in range(n) if free((a,))]
    for order in range(2, min(spec.model.interactions, n) + 1):
        terms += [Term(axes=ax, kind=INTERACTION) for ax in itertools.combinations(range(n), order) if free(ax)]
    have = {t.axes for t in terms}
    for g, attr in enumerate(spec.attributes):
        if attr.role != "geography":
            continue
        others = [a for a in range(n) if a != g]
        for pair in itertools.combinations(others, 2):
            axes = tuple(sorted((g, *pair)))
            if free(axes) and axes not in have:
                terms.append(Term(axes=axes, kind=GEOGRAPHY))
                have.add(axes)
    return tuple(terms)
