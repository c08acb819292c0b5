"""Computing on named dims: margins of draws, and interval tables.

Every result of populace that has draws (the joint, a forecast, a check's replicates) is
an :class:`xarray.DataArray` whose first dims are the sample dims (``chain``, ``draw``,
as ArviZ has them) followed by named dims (attributes, outcome levels). These helpers
reduce over names, never positions, so each caller sums down a joint and builds a
mean / sd / lower / upper table in one way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

# Credible mass of reported intervals unless asked otherwise: the 90% equal-tailed
# interval, the contract's default (DESIGN.md section 2).
DEFAULT_CREDIBLE_MASS = 0.9
# Dims that index draws rather than cells (ArviZ's names).
SAMPLE_DIMS = ("chain", "draw")
# Columns of an interval table after the group columns.
SUMMARY_COLUMNS = ("mean", "sd", "lower", "upper")


def interval_quantiles(prob: float = DEFAULT_CREDIBLE_MASS) -> tuple[float, float]:
    """The lower and upper quantiles of the equal-tailed interval of mass ``prob``.

    Raises
    ------
    ValueError
        When ``prob`` is not in (0, 1).

    Examples
    --------
    >>> interval_quantiles(0.5)
    (0.25, 0.75)
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must be between 0 and 1, got {prob}")
    return (1 - prob) / 2, (1 + prob) / 2


def sample_dims(values: xr.DataArray) -> tuple[str, ...]:
    """The dims of ``values`` that index draws (``chain``, ``draw`` or ``sample``)."""
    return tuple(d for d in values.dims if d in (*SAMPLE_DIMS, "sample"))


def margin(values: xr.DataArray, by: Sequence[str]) -> xr.DataArray:
    """Sum ``values`` over every named dim that is not a sample dim and not in ``by``.

    Parameters
    ----------
    values
        Draws of shares (or counts) with sample dims first.
    by
        Dims to keep, in this order, after the sample dims.

    Returns
    -------
    xarray.DataArray
        Dims ``(*sample dims, *by)``.

    Examples
    --------
    >>> p = xr.DataArray(np.full((1, 2, 2, 3), 1 / 6), dims=("chain", "draw", "sex", "age"))
    >>> margin(p, ["sex"]).dims
    ('chain', 'draw', 'sex')
    >>> float(margin(p, ["sex"]).sel(chain=0, draw=0)[0])
    0.5
    """
    by = list(by)
    keep = sample_dims(values)
    drop = [d for d in values.dims if d not in keep and d not in by]
    out = values.sum(dim=drop) if drop else values
    return out.transpose(*keep, *by)


def stacked(values: xr.DataArray) -> xr.DataArray:
    """``values`` with its sample dims stacked into one dim ``sample`` (first)."""
    dims = sample_dims(values)
    if dims == ("sample",):
        return values
    rest = [d for d in values.dims if d not in dims]
    return values.stack(sample=dims).transpose("sample", *rest)


def interval_table(values: xr.DataArray, prob: float = DEFAULT_CREDIBLE_MASS) -> pd.DataFrame:
    """Mean, sd and equal-tailed interval of every cell of draws with named dims.

    Parameters
    ----------
    values
        Draws with sample dims (``chain`` and ``draw``, or ``sample``) and named dims.
    prob
        Credible mass of the interval, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One column per named dim (its coordinate labels, in order), then ``mean``,
        ``sd``, ``lower``, ``upper``. The interval always holds the mean.

    Examples
    --------
    >>> draws = xr.DataArray([[0.25, 0.75], [0.5, 0.5]], dims=("sample", "sex"), coords={"sex": ["f", "m"]})
    >>> interval_table(draws, prob=0.5)[["sex", "mean", "lower"]].to_dict("list")
    {'sex': ['f', 'm'], 'mean': [0.375, 0.625], 'lower': [0.3125, 0.5625]}
    """
    lo_q, hi_q = interval_quantiles(prob)
    flat = stacked(values)
    names = [d for d in flat.dims if d != "sample"]
    data = flat.values.reshape(flat.sizes["sample"], -1)
    sizes = [flat.sizes[n] for n in names]
    grid = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    columns = {n: np.asarray(_labels(flat, n), dtype=object)[g.ravel()] for n, g in zip(names, grid)}
    frame = pd.DataFrame(columns) if names else pd.DataFrame(index=[0])
    missing = np.isnan(data)
    if missing.any():
        # Cells absent from some draws (a group no simulated persona fell in): scored on
        # the draws that have them; cells absent from every draw are left out.
        keep = ~missing.all(axis=0)
        data, frame = data[:, keep], frame[keep].reset_index(drop=True)
        count = (~np.isnan(data)).sum(axis=0)
        mean = np.nanmean(data, axis=0)
        lower, upper = np.nanquantile(data, [lo_q, hi_q], axis=0)
        spread = np.sqrt(np.nansum((data - mean) ** 2, axis=0) / np.maximum(count - 1, 1))
        sd = np.where(count > 1, spread, 0.0)
    else:
        mean = data.mean(axis=0)
        lower, upper = np.quantile(data, [lo_q, hi_q], axis=0)
        sd = data.std(axis=0, ddof=1) if data.shape[0] > 1 else np.zeros(data.shape[1])
    frame["mean"] = mean
    frame["sd"] = sd
    frame["lower"] = np.minimum(lower, mean)
    frame["upper"] = np.maximum(upper, mean)
    return frame


def _labels(values: xr.DataArray, dim: str) -> list[object]:
    if dim in values.coords:
        return list(values.coords[dim].values)
    return list(range(values.sizes[dim]))
