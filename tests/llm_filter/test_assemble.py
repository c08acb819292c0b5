"""From scores to plausibility terms: centring, both orders, the cache, and bad scores."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from populace.errors import DataError, SpecError
from populace.llm_filter import CallableScorer
from populace.llm_filter.assemble import double_centre, plausibility_terms, remove_main_effects

ATTRIBUTES = {"age": ("16", "40", "70"), "work": ("job", "retired"), "sex": ("f", "m")}


class Counting:
    """Scores retirement at 16 as implausible; counts the combinations it was asked about."""

    def __init__(self, cache_id: str | None = "counting-v1", ordered: bool = False) -> None:
        self.cache_id = cache_id
        self.ordered = ordered
        self.asked: list[dict[str, str]] = []

    def score(self, combinations):  # noqa: ANN001, ANN201
        self.asked += [dict(c) for c in combinations]
        return np.array([-4.0 if c.get("age") == "16" and c.get("work") == "retired" else -1.0 for c in combinations])


def test_pair_terms_are_log_odds_ratios_shifted_to_a_maximum_of_zero() -> None:
    terms = plausibility_terms(ATTRIBUTES, Counting(cache_id=None), progress=False)
    assert [t.names for t in terms] == [("age", "work"), ("age", "sex"), ("work", "sex")]
    table = terms[0].table
    assert table.max() == 0.0 and (table <= 0).all()
    # the log odds ratio of (16 vs 70) x (retired vs job) is the scorer's -3
    assert table[0, 1] - table[0, 0] - table[2, 1] + table[2, 0] == pytest.approx(-3.0)
    # pairs with nothing to say are flat
    assert np.allclose(terms[1].table, 0.0) and np.allclose(terms[2].table, 0.0)


def test_main_effects_never_reach_the_terms() -> None:
    # a scorer that only says "retired is rare" and "70 is rare" carries no interaction
    scorer = CallableScorer(lambda c: -2.0 * (c.get("work") == "retired") - 1.0 * (c.get("age") == "70"))
    for term in plausibility_terms(ATTRIBUTES, scorer, progress=False):
        assert np.allclose(term.table, 0.0)
    full = plausibility_terms(ATTRIBUTES, scorer, order="full", progress=False)[0]
    assert full.axes == (0, 1, 2) and np.allclose(full.table, 0.0)


def test_an_ordered_scorer_is_asked_both_orders_and_skipped_pairs_are_not_asked() -> None:
    scorer = Counting(cache_id=None, ordered=True)
    terms = plausibility_terms(ATTRIBUTES, scorer, skip=[("sex", "age")], progress=False)
    assert [t.names for t in terms] == [("age", "work"), ("work", "sex")]
    orders = {tuple(c) for c in scorer.asked}
    assert {("age", "work"), ("work", "age"), ("work", "sex"), ("sex", "work")} == orders
    assert len(scorer.asked) == 2 * (3 * 2 + 2 * 2)


def test_the_cache_makes_a_second_scoring_free(tmp_path: pathlib.Path) -> None:
    cache = tmp_path / "scores.sqlite"
    first = Counting()
    a = plausibility_terms(ATTRIBUTES, first, cache=cache, progress=False)
    second = Counting()
    b = plausibility_terms(ATTRIBUTES, second, cache=cache, progress=False)
    assert first.asked and not second.asked
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.table, y.table)
    # another scorer identity does not reuse those scores
    third = Counting(cache_id="counting-v2")
    plausibility_terms(ATTRIBUTES, third, cache=cache, progress=False)
    assert len(third.asked) == len(first.asked)


@pytest.mark.parametrize(("value", "word"), [(0.5, "0.5"), (float("nan"), "nan"), (float("-inf"), "-inf")])
def test_positive_or_non_finite_scores_are_refused_with_the_combination(value: float, word: str) -> None:
    scorer = CallableScorer(lambda c: value if c.get("work") == "retired" else -1.0, name="bad")
    with pytest.raises(DataError, match=f"returned {word} for .*'work': 'retired'.*finite and <= 0"):
        plausibility_terms(ATTRIBUTES, scorer, progress=False)


def test_a_scorer_returning_the_wrong_number_of_scores_is_refused() -> None:
    class Short:
        def score(self, combinations):  # noqa: ANN001, ANN201
            return np.zeros(len(combinations) - 1)

    with pytest.raises(DataError, match="Short returned"):
        plausibility_terms(ATTRIBUTES, Short(), progress=False)


def test_full_order_is_refused_for_large_grids() -> None:
    big = {f"a{i}": tuple(str(j) for j in range(5)) for i in range(6)}
    with pytest.raises(SpecError, match="use order: pairs"):
        plausibility_terms(big, Counting(), order="full", progress=False)


def test_centring_helpers_remove_exactly_the_lower_order_terms() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(size=(3, 4))
    centred = double_centre(table)
    assert np.allclose(centred.mean(axis=0), 0) and np.allclose(centred.mean(axis=1), 0)
    three = rng.normal(size=(2, 3, 4))
    kept = remove_main_effects(three)
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        assert np.allclose(kept.mean(axis=others), 0)
    # interactions survive: the double-centred two-way part is unchanged
    assert np.allclose(double_centre(kept.mean(axis=2)), double_centre(three.mean(axis=2)))
