"""Continuous attributes: a value within each persona's bin, from the sample's own numbers.

A continuous attribute (``bins`` in the spec, :class:`populace.spec.Attribute`) is
modelled on its bins. A persona in a bin gets a value drawn from the numbers the sample
reported in that bin, each with its row's weight: the sample's empirical distribution
within the bin. Where the sample has no number in a bin (it gave bin names, or nobody
fell there), the value is uniform over the bin: the stated parametric form.

Examples
--------
>>> from populace.spec import Attribute
>>> age = Attribute(name="age", levels=("18-30", "30-65", "65-100"), bins=(18, 30, 65, 100))
>>> numbers, weights = np.array([19.0, 22.0, 40.0]), np.ones(3)
>>> values = within_bins(age, np.array([0, 0, 1, 2]), numbers, weights, np.random.default_rng(0))
>>> bool(np.isin(values[:2], [19.0, 22.0]).all()), bool(values[2] == 40.0), bool(65 <= values[3] <= 100)
(True, True, True)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from populace.data.inputs import parse_csv, parse_numbers
from populace.spec import Attribute, Spec


def sample_numbers(spec: Spec, texts: Mapping[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each continuous attribute's numbers in the sample, with their rows' weights.

    ``texts`` are the input files by their names in the spec (a posterior keeps them:
    :attr:`populace.Posterior.input_texts`). Rows that gave a bin's name, no answer, a
    number outside the bins or a weight of zero are left out.
    """
    continuous = [a for a in spec.attributes if a.continuous]
    empty = (np.zeros(0), np.zeros(0))
    if not continuous or spec.microdata is None or spec.microdata.source.file not in texts:
        return {a.name: empty for a in continuous}
    name = spec.microdata.source.file
    frame = parse_csv(texts[name], name)
    weight = spec.microdata.weight
    weights = parse_numbers(frame, name, weight, "weight") if weight else np.ones(len(frame))
    out = {}
    for attribute in continuous:
        if attribute.name not in frame.columns:
            out[attribute.name] = empty
            continue
        numbers = np.array([_number(v) for v in frame[attribute.name].tolist()])
        keep = (attribute.bin_codes(numbers) >= 0) & (weights > 0)
        out[attribute.name] = (numbers[keep], weights[keep])
    return out


def within_bins(
    attribute: Attribute, codes: np.ndarray, numbers: np.ndarray, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A value for each bin code: one of the sample's numbers in that bin (by weight), else uniform over the bin."""
    edges = np.asarray(attribute.bins)
    numbers, weights = np.asarray(numbers, dtype=float), np.asarray(weights, dtype=float)
    number_bins = attribute.bin_codes(numbers)
    out = np.empty(len(codes))
    for b in range(len(edges) - 1):
        rows = np.flatnonzero(codes == b)
        if rows.size == 0:
            continue
        inside = number_bins == b
        if inside.any():
            p = weights[inside] / weights[inside].sum()
            out[rows] = rng.choice(numbers[inside], size=rows.size, p=p)
        else:
            out[rows] = rng.uniform(edges[b], edges[b + 1], size=rows.size)
    return out


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return np.nan
