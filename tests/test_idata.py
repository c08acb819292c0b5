"""ArviZ groups of a posterior: observed data, posterior predictive, pointwise log likelihood."""

from __future__ import annotations

import numpy as np
import pytest

import populace as pp
from populace.data.inputs import coarse_map, load_inputs
from tests.fakes import joint_draws, posterior_from_draws

az = pytest.importorskip("arviz")


def _patterns_log_likelihood(post, inputs) -> np.ndarray:
    """The model's microdata log likelihood per draw, from the sample's grouped counts."""
    p = post.posterior["p"].values.reshape(post.n_samples, *post.spec.shape)
    total = np.zeros(post.n_samples)
    groups = [(axes, counts, False) for axes, counts in inputs.sample.patterns]
    groups += [(axes, counts, True) for axes, counts in inputs.sample.coarse_patterns]
    for axes, counts, coarse in groups:
        m = p.sum(axis=tuple(1 + a for a in range(p.ndim - 1) if a not in axes))
        if coarse:
            for i, a in enumerate(axes):
                if post.spec.attributes[a].coarse:
                    m = np.moveaxis(
                        np.tensordot(m, coarse_map(post.spec.attributes[a]), axes=([i + 1], [0])), -1, i + 1
                    )
        positive = counts > 0
        total += np.where(positive, counts * np.log(np.where(positive, m, 1.0)), 0.0).reshape(len(m), -1).sum(axis=1)
    return total


def test_pointwise_log_likelihood_adds_up_to_the_models(fake_posterior) -> None:
    inputs = fake_posterior.inputs()
    assert len(inputs.sample.patterns) > 1  # the example's sample has missing answers
    idata = fake_posterior.to_inference_data(predictive=False)
    ll = idata.log_likelihood["sample"]
    assert ll.sizes["person"] == inputs.sample.n_rows
    np.testing.assert_allclose(
        ll.sum("person").values.ravel(), _patterns_log_likelihood(fake_posterior, inputs), rtol=1e-10
    )


def test_loo_and_compare_run_on_the_pointwise_log_likelihood(fake_posterior) -> None:
    idata = fake_posterior.to_inference_data(predictive=False)
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo) and loo.n_data_points == fake_posterior.inputs().sample.n_rows
    # a worse joint (the draws flattened halfway to uniform) must lose the comparison
    inputs = fake_posterior.inputs()
    p = fake_posterior.posterior["p"].values.reshape(fake_posterior.n_samples, -1)
    flat = 0.5 * p + 0.5 / p.shape[1]
    worse = posterior_from_draws(fake_posterior.spec, inputs, flat.reshape(2, -1, *fake_posterior.spec.shape))
    table = az.compare({"fitted": idata, "flattened": worse.to_inference_data(predictive=False)})
    assert table.index[0] == "fitted"


def test_observed_data_and_predictive_match_the_inputs(fake_posterior) -> None:
    inputs = fake_posterior.inputs()
    idata = fake_posterior.to_inference_data(seed=1)
    observed, predicted = idata.observed_data, idata.posterior_predictive
    assert set(observed.data_vars) == set(predicted.data_vars)
    tables = [v for v in observed.data_vars if v.startswith("table_")]
    assert len(tables) == len(inputs.tables)
    for name, table in zip(tables, inputs.tables):
        np.testing.assert_allclose(observed[name].values, table.counts)
        mean = predicted[name].mean(("chain", "draw")).values
        if table.se is None:  # every draw meets an exact table
            np.testing.assert_allclose(predicted[name].values[0, 0], table.counts, rtol=1e-6)
        else:  # latent count plus error: the replicated counts spread by at least the se
            spread = predicted[name].std(("chain", "draw")).values
            assert np.all(spread > 0.8 * table.se)
            assert np.abs(mean - table.counts).max() < 4 * table.se.max()
    samples = [v for v in observed.data_vars if v.startswith("sample")]
    assert abs(sum(float(observed[v].sum()) for v in samples) - inputs.sample.n_effective) < 1e-6
    for v in samples:
        totals = predicted[v].sum([d for d in predicted[v].dims if d not in ("chain", "draw")])
        assert np.all(totals.values == round(float(observed[v].sum())))


def test_plot_ppc_draws_a_predictive_group(fake_posterior) -> None:
    idata = fake_posterior.to_inference_data(seed=0)
    name = next(v for v in idata.observed_data.data_vars if v.startswith("sample_"))
    axes = az.plot_ppc(idata, var_names=[name], num_pp_samples=20, random_seed=0)
    assert np.size(axes) >= 1


def test_coarse_answers_are_summed_over_their_set(tmp_path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "attributes:\n  sex: {levels: [female, male]}\n  edu:\n    levels: [hs, some, ba, grad]\n"
        "    coarse: {no college: [hs, some], college: [ba, grad]}\n"
        "marginals:\n  - file: sex.csv\nmicrodata:\n  file: sample.csv\n"
    )
    (tmp_path / "sex.csv").write_text("sex,count\nfemale,520\nmale,480\n")
    (tmp_path / "sample.csv").write_text("sex,edu\nfemale,hs\nmale,college\nfemale,college\n,no college\nmale,grad\n")
    spec = pp.Spec.from_yaml(tmp_path / "spec.yaml")
    inputs = load_inputs(spec)
    centre = np.full(spec.shape, 1.0 / np.prod(spec.shape))
    draws = joint_draws(inputs, centre, chains=2, draws=30, seed=0)
    post = posterior_from_draws(spec, inputs, draws)
    idata = post.to_inference_data(seed=0)
    assert "sample_coarse_sex_edu" in idata.observed_data and "edu_or_set" in idata.observed_data.dims
    ll = idata.log_likelihood["sample"]
    np.testing.assert_allclose(ll.sum("person").values.ravel(), _patterns_log_likelihood(post, inputs), rtol=1e-10)
    # the row "male, college" has the log of male x (ba + grad), draw by draw
    p = post.posterior["p"].values.reshape(post.n_samples, 2, 4)
    row = list(inputs.sample.row_numbers).index(2)
    weight = inputs.sample.scaled_weights[row]
    np.testing.assert_allclose(ll.values.reshape(post.n_samples, -1)[:, row], weight * np.log(p[:, 1, 2:].sum(axis=1)))


def test_a_posterior_without_a_sample_has_no_log_likelihood(known_posterior) -> None:
    idata = known_posterior.to_inference_data(seed=0)
    assert "log_likelihood" not in idata.groups()
    assert "observed_data" in idata.groups()
