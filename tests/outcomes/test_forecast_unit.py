"""Post-stratified forecasts against hand computations, without a sampler (tests/fakes.py)."""

from __future__ import annotations

import numpy as np
import pytest

import populace as pp
from populace.data.inputs import load_inputs
from populace.outcomes.forecast import DRAW_CHUNK, forecast_draws, forecast_table
from populace.outcomes.model import OutcomeDraws
from tests.fakes import KNOWN_JOINT, known_spec, posterior_from_draws

# P(yes | age) for young, middle, old; the outcome levels are ("no", "yes").
YES_BY_AGE = np.array([0.8, 0.5, 0.2])


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _by_age(draws: int = 5) -> OutcomeDraws:
    """An outcome model whose every draw gives P(yes | age) = YES_BY_AGE."""
    effects = np.broadcast_to(_logit(YES_BY_AGE)[None, :, None], (draws, 3, 1)).copy()
    return OutcomeDraws(predictors=("age",), alpha=np.zeros((draws, 1)), effects=(effects,))


def _point_mass(joint: np.ndarray, draws: int):
    """A posterior of the sex x age spec whose every draw is ``joint``."""
    spec = known_spec()
    p = np.broadcast_to(joint, (1, draws, *joint.shape)).copy()
    return posterior_from_draws(spec, load_inputs(spec), p)


def test_shares_by_group_match_the_hand_computation() -> None:
    post = _point_mass(KNOWN_JOINT, 4)
    got = forecast_draws(post, _by_age(), ["sex"])
    assert got.shape == (4, 2, 2)
    # female: (0.10 * 0.8 + 0.22 * 0.5 + 0.20 * 0.2) / 0.52; male: (0.18 * 0.8 + 0.20 * 0.5 + 0.10 * 0.2) / 0.48
    np.testing.assert_allclose(got[:, 0, 1], 0.23 / 0.52, rtol=1e-12)
    np.testing.assert_allclose(got[:, 1, 1], 0.264 / 0.48, rtol=1e-12)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-12)
    overall = forecast_draws(post, _by_age(), [])
    assert overall.shape == (4, 2)
    np.testing.assert_allclose(overall[:, 1], 0.23 + 0.264, rtol=1e-12)


def test_grouping_by_the_predictor_returns_its_probabilities(known_posterior) -> None:
    got = forecast_draws(known_posterior, _by_age(), ["age"])
    assert got.shape == (known_posterior.n_samples, 3, 2)
    np.testing.assert_allclose(got[..., 1], np.broadcast_to(YES_BY_AGE, got.shape[:2]), rtol=1e-12)


def test_each_draw_weights_by_its_own_joint(known_posterior) -> None:
    got = forecast_draws(known_posterior, _by_age(), ["sex"])
    p = known_posterior.posterior["p"].values.reshape(-1, 2, 3)
    for s in (0, 57, 199):
        for sex in range(2):
            expected = sum(p[s, sex, a] * YES_BY_AGE[a] for a in range(3)) / p[s, sex].sum()
            assert got[s, sex, 1] == pytest.approx(expected, rel=1e-12)
    assert got[:, 0, 1].std() > 1e-3  # the joint's uncertainty reaches the forecast


def test_group_axes_follow_by_not_the_predictor_order() -> None:
    post = _point_mass(KNOWN_JOINT, 3)
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=(3, 1))
    b_age, b_sex = rng.normal(size=(3, 3, 1)), rng.normal(size=(3, 2, 1))
    model = OutcomeDraws(predictors=("age", "sex"), alpha=alpha, effects=(b_age, b_sex))
    by_sex_age = forecast_draws(post, model, ["sex", "age"])
    by_age_sex = forecast_draws(post, model, ["age", "sex"])
    assert by_sex_age.shape == (3, 2, 3, 2) and by_age_sex.shape == (3, 3, 2, 2)
    for s in range(3):
        for sex in range(2):
            for age in range(3):
                yes = _sigmoid(alpha[s, 0] + b_age[s, age, 0] + b_sex[s, sex, 0])
                assert by_sex_age[s, sex, age, 1] == pytest.approx(yes, rel=1e-12)
                assert by_age_sex[s, age, sex, 1] == pytest.approx(yes, rel=1e-12)


def test_outcome_draws_are_reused_in_turn_across_chunks() -> None:
    n = DRAW_CHUNK + 60
    post = _point_mass(KNOWN_JOINT, n)
    alpha = np.array([[-1.0], [0.0], [0.5], [2.0], [-3.0], [1.0], [0.25]])
    model = OutcomeDraws(predictors=("age",), alpha=alpha, effects=(np.zeros((7, 3, 1)),))
    got = forecast_draws(post, model, [])
    np.testing.assert_allclose(got[:, 1], _sigmoid(alpha[np.arange(n) % 7, 0]), rtol=1e-12)


def test_fixing_the_joint_leaves_the_outcome_spread(known_posterior) -> None:
    got = forecast_draws(known_posterior, _by_age(), ["sex"], fix="joint")
    mean = known_posterior.posterior["p"].values.reshape(-1, 2, 3).mean(axis=0)
    expected = (mean * YES_BY_AGE).sum(axis=1) / mean.sum(axis=1)
    np.testing.assert_allclose(got[..., 1], np.broadcast_to(expected, got.shape[:2]), rtol=1e-10)


def test_fixing_the_outcome_uses_its_mean_probabilities() -> None:
    post = _point_mass(KNOWN_JOINT, 6)
    alpha = np.array([[-2.0], [0.0], [1.0]])
    model = OutcomeDraws(predictors=("age",), alpha=alpha, effects=(np.zeros((3, 3, 1)),))
    got = forecast_draws(post, model, [], fix="outcome")
    # the mean of the probabilities (0.450), not the probability at the mean log odds (0.417)
    np.testing.assert_allclose(got[:, 1], _sigmoid(alpha[:, 0]).mean(), rtol=1e-12)
    assert got[0, 1] != pytest.approx(_sigmoid(alpha.mean()), abs=0.01)


def test_table_columns_rows_and_numbers(known_posterior) -> None:
    draws = forecast_draws(known_posterior, _by_age(), ["sex"])
    table = forecast_table(known_posterior, _by_age(), ["sex"], ["no", "yes"], prob=0.8)
    assert list(table.columns) == ["sex", "level", "mean", "sd", "lower", "upper"]
    assert list(zip(table["sex"], table["level"])) == [
        ("female", "no"),
        ("female", "yes"),
        ("male", "no"),
        ("male", "yes"),
    ]
    flat = draws.reshape(draws.shape[0], -1)
    np.testing.assert_allclose(table["mean"], flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["sd"], flat.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(table["lower"], np.quantile(flat, 0.1, axis=0), rtol=1e-12)
    assert (table["lower"] <= table["mean"]).all() and (table["mean"] <= table["upper"]).all()
    yes = table[table["level"] == "yes"].set_index("sex")["mean"]
    assert yes["female"] == pytest.approx(0.23 / 0.52, abs=0.01) and yes["male"] == pytest.approx(0.55, abs=0.01)


def test_unknown_group_is_refused(known_posterior) -> None:
    with pytest.raises(pp.DataError, match="by names unknown attribute 'income'"):
        forecast_draws(known_posterior, _by_age(), ["income"])


def test_example_matches_brute_force_post_stratification(fake_posterior) -> None:
    rng = np.random.default_rng(0)
    predictors = ("education", "region")
    effects = tuple(rng.normal(size=(20, len(fake_posterior.spec.attribute(n).levels), 2)) for n in predictors)
    model = OutcomeDraws(predictors=predictors, alpha=rng.normal(size=(20, 2)), effects=effects)
    got = forecast_draws(fake_posterior, model, ["wage", "region"])
    assert got.shape == (fake_posterior.n_samples, 4, 4, 3)
    p = fake_posterior.joint(["region", "education", "wage"]).values.reshape(-1, 4, 4, 4)
    prob = model.probabilities()  # (draws, education, region, K)
    for s in (0, 33, 99):
        for w in range(4):
            for r in range(4):
                cells = p[s, r, :, w]
                expected = (cells[:, None] * prob[s % 20, :, r, :]).sum(axis=0) / cells.sum()
                np.testing.assert_allclose(got[s, w, r], expected, rtol=1e-10)
