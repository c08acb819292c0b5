"""Outcomes from a simulator instead of a regression (for example an LLM answering as a persona).

A simulator is anything with ``levels`` and a ``__call__`` mapping a batch of personas
to a distribution over those levels. :func:`simulate_forecast` draws personas from each
posterior draw of the joint, calls the simulator on the distinct attribute
combinations only (batched, and cached across draws), and aggregates per draw, so the
interval carries the joint's uncertainty plus the persona sampling noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from populace.errors import DataError
from populace.personas import personas as draw_personas
from populace.posterior import Posterior
from populace.summaries import DEFAULT_CREDIBLE_MASS, interval_table

BATCH = 256


class Simulator(Protocol):
    """Maps personas to a distribution over outcome levels."""

    levels: tuple[str, ...]

    def __call__(self, personas: pd.DataFrame) -> np.ndarray:
        """Probabilities, shape (len(personas), len(levels)), rows summing to 1."""
        ...


class LogitSimulator:
    """A deterministic simulator: additive log-odds per attribute level (for tests and demos).

    Parameters
    ----------
    levels
        Outcome levels.
    base
        Baseline logits, one per level.
    effects
        ``{attribute: {level: logits per outcome level}}``; missing entries add 0.

    Examples
    --------
    >>> sim = LogitSimulator(("yes", "no"), [0.0, 0.0], {"sex": {"female": [1.0, 0.0]}})
    >>> sim(pd.DataFrame({"sex": ["female", "male"]})).round(3).tolist()
    [[0.731, 0.269], [0.5, 0.5]]
    """

    def __init__(
        self, levels: Sequence[str], base: Sequence[float], effects: Mapping[str, Mapping[str, Sequence[float]]]
    ) -> None:
        self.levels = tuple(levels)
        self.base = np.asarray(base, dtype=float)
        self.effects = {a: {lv: np.asarray(v, dtype=float) for lv, v in m.items()} for a, m in effects.items()}

    def __call__(self, personas: pd.DataFrame) -> np.ndarray:
        """Probabilities of each outcome level for each persona."""
        logits = np.tile(self.base, (len(personas), 1))
        for attr, table in self.effects.items():
            if attr in personas.columns:
                zero = np.zeros_like(self.base)
                logits += np.stack([table.get(str(v), zero) for v in personas[attr]])
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        return prob / prob.sum(axis=1, keepdims=True)


def simulate_forecast(
    post: Posterior,
    simulator: Simulator,
    by: Sequence[str],
    *,
    per_draw: int = 200,
    draws: int | None = None,
    seed: int = 0,
    prob: float = DEFAULT_CREDIBLE_MASS,
) -> pd.DataFrame:
    """Forecast table (``by``, ``level``, ``mean``, ``sd``, ``lower``, ``upper``) from a simulator.

    Parameters
    ----------
    post
        Posterior of the joint.
    simulator
        The outcome simulator.
    by
        Group attributes.
    per_draw
        Personas per posterior draw.
    draws
        Posterior draws used (default: all).
    seed
        Seed of the persona draws.
    prob
        Credible mass of the interval.
    """
    by = post.spec.check_by(by)
    used = min(draws or post.n_samples, post.n_samples)
    people = draw_personas(post, used * per_draw, seed=seed)
    people = people[people["draw"] < used] if used < post.n_samples else people
    names = list(post.spec.names)
    key = people[names].astype(str).agg("\x1f".join, axis=1)
    distinct = people.loc[~key.duplicated(), names].reset_index(drop=True)
    distinct_key = distinct.astype(str).agg("\x1f".join, axis=1)
    cache: dict[str, np.ndarray] = {}
    for start in range(0, len(distinct), BATCH):
        batch = distinct.iloc[start : start + BATCH]
        out = np.asarray(simulator(batch), dtype=float)
        if out.shape != (len(batch), len(simulator.levels)) or not np.isfinite(out).all() or (out < 0).any():
            raise DataError(
                f"the simulator returned an array of shape {out.shape} with invalid values; expected "
                f"({len(batch)}, {len(simulator.levels)}) probabilities"
            )
        for k, row in zip(distinct_key.iloc[start : start + BATCH], out):
            cache[k] = row / row.sum()
    probs = np.stack([cache[k] for k in key])
    frame = people[["draw", *by]].copy()
    for j, level in enumerate(simulator.levels):
        frame[level] = probs[:, j]
    shares = frame.groupby(["draw", *by], observed=False)[list(simulator.levels)].mean()
    values = shares.to_xarray().to_dataarray("level").rename(draw="sample").transpose("sample", *by, "level")
    return interval_table(values, prob)
