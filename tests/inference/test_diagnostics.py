"""Convergence messages name the quantity whose chains disagree most."""

from __future__ import annotations

import numpy as np

from populace.inference.diagnostics import convergence
from tests.fakes import posterior_from_draws


def test_the_r_hat_message_names_the_worst_cell(fake_posterior) -> None:
    post = fake_posterior
    draws = post.posterior["p"].values.copy()
    spec = post.spec
    flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
    moving = np.flatnonzero(flat.std(axis=(0, 1)) > 1e-6)
    cell = int(moving[len(moving) // 2])
    flat[1, :, cell] *= 1.5  # the second chain sits elsewhere on one cell
    flat /= flat.sum(axis=2, keepdims=True)
    bad = posterior_from_draws(spec, post.inputs(), flat.reshape(draws.shape))
    r_hat = next(c for c in convergence(bad) if c["name"] == "r_hat")
    levels = np.unravel_index(cell, spec.shape)
    label = ", ".join(f"{a.name}={a.levels[i]}" for a, i in zip(spec.attributes, levels))
    assert not r_hat["ok"]
    assert f"(p[{label}])" in r_hat["message"], r_hat["message"]
