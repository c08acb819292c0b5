"""Personas drawn from posteriors built without a sampler (tests/fakes.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import populace as pp
from populace.data.inputs import load_inputs
from populace.personas import personas, write_personas
from tests.fakes import KNOWN_JOINT, known_spec, posterior_from_draws


def test_columns_are_id_draw_then_categorical_attributes(fake_posterior) -> None:
    people = personas(fake_posterior, 300, seed=0)
    spec = fake_posterior.spec
    assert list(people.columns) == ["persona_id", "draw", *spec.names]
    assert people["persona_id"].tolist() == list(range(300))
    for attr in spec.attributes:
        column = people[attr.name]
        assert isinstance(column.dtype, pd.CategoricalDtype)
        assert list(column.cat.categories) == list(attr.levels)
        assert column.cat.ordered == attr.ordered


def test_counts_follow_the_mean_joint_within_sampling_error(fake_posterior) -> None:
    n = 100 * fake_posterior.n_samples  # every draw used exactly 100 times
    people = personas(fake_posterior, n, seed=2)
    expected = fake_posterior.joint(["region", "wage"]).mean(("chain", "draw")).values.ravel()
    observed = people.groupby(["region", "wage"], observed=False).size().to_numpy()
    z = (observed - n * expected) / np.sqrt(n * expected * (1 - expected))
    assert np.abs(z).max() < 4.5
    # and not merely any joint: the margin of the uniform joint is far outside that band
    uniform = np.full_like(expected, 1 / expected.size)
    assert np.abs((observed - n * uniform) / np.sqrt(n * uniform)).max() > 10


def test_known_joint_is_reproduced(known_posterior) -> None:
    n = 60_000
    people = personas(known_posterior, n, seed=5)
    shares = people.groupby(["sex", "age"], observed=False).size().to_numpy().reshape(2, 3) / n
    np.testing.assert_allclose(shares, KNOWN_JOINT, atol=0.006)


def test_each_persona_takes_its_cell_from_its_own_draw() -> None:
    # draw d puts all mass on cell d % 6, so a persona's cell gives its draw away
    spec = known_spec()
    inputs = load_inputs(spec)
    p = np.zeros((2, 9, 6))
    for flat in range(18):
        p.reshape(18, 6)[flat, flat % 6] = 1.0
    post = posterior_from_draws(spec, inputs, p.reshape(2, 9, 2, 3))
    people = personas(post, 500, seed=3)
    sex = people["sex"].cat.codes.to_numpy()
    age = people["age"].cat.codes.to_numpy()
    np.testing.assert_array_equal(sex * 3 + age, people["draw"].to_numpy() % 6)


@pytest.mark.parametrize("n", [100, 1000, 1037])
def test_every_draw_is_used_equally_often(fake_posterior, n) -> None:
    people = personas(fake_posterior, n, seed=4)
    uses = np.bincount(people["draw"], minlength=fake_posterior.n_samples)
    assert len(uses) == fake_posterior.n_samples
    assert uses.max() - uses.min() <= 1
    assert uses.sum() == n


def test_draws_are_assigned_in_a_random_order(fake_posterior) -> None:
    draws = personas(fake_posterior, 1000, seed=4)["draw"].to_numpy()
    assert not (np.diff(draws) >= 0).all()


def test_same_seed_same_personas_other_seed_others(fake_posterior) -> None:
    a = personas(fake_posterior, 500, seed=11)
    b = personas(fake_posterior, 500, seed=11)
    c = personas(fake_posterior, 500, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_module_is_callable_like_the_function(fake_posterior) -> None:
    pd.testing.assert_frame_equal(pp.personas(fake_posterior, 50, seed=1), personas(fake_posterior, 50, seed=1))


def test_descriptive_tier_adds_a_sentence_from_the_attributes(fake_posterior) -> None:
    people = personas(fake_posterior, 20, seed=6, tier="descriptive")
    tabular = personas(fake_posterior, 20, seed=6)
    pd.testing.assert_frame_equal(people.drop(columns="description"), tabular)
    row = people.iloc[7]
    parts = "; ".join(f"{name}: {row[name]}" for name in fake_posterior.spec.names)
    assert row["description"] == f"A person with {parts}."


@pytest.mark.parametrize(("n", "tier", "match"), [(0, "tabular", "-n"), (5, "narrative", "--tier")])
def test_bad_arguments_name_the_option(fake_posterior, n, tier, match) -> None:
    with pytest.raises(pp.DataError, match=match):
        personas(fake_posterior, n, tier=tier)


def test_written_csv_reads_back(fake_posterior, tmp_path) -> None:
    people = personas(fake_posterior, 40, seed=8)
    path = write_personas(people, tmp_path / "people.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["region"].tolist() == people["region"].astype(str).tolist()
    assert back["draw"].astype(int).tolist() == people["draw"].tolist()
    with pytest.raises(pp.DataError, match="--out"):
        write_personas(people, tmp_path / "people.json")
