"""The UCI Adult persons (48,842) as 13 categorical attributes: a real population with a known joint.

Provenance in ``populace/data/adult/README.md``. Continuous columns are binned (the
edges below); ``?`` (not known) is kept as its own level, as a census would publish it.

Examples
--------
>>> people = persons()
>>> people.shape
(48842, 13)
>>> people["income"].value_counts().to_dict()
{'<=50K': 37155, '>50K': 11687}
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import pandas as pd

COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
# Bin edges (right-closed) of the continuous columns.
AGE_EDGES = (16, 24, 34, 44, 54, 64, 120)
HOURS_EDGES = (0, 29, 39, 40, 49, 99)
CAPITAL_EDGES = (-1, 0, 5000, 10**6)


def _read(name: str, skip: int) -> pd.DataFrame:
    path = importlib.resources.files("populace.data") / "adult" / name
    with importlib.resources.as_file(path) as file:
        return pd.read_csv(
            file, header=None, names=list(COLUMNS), skiprows=skip, skipinitialspace=True, compression="gzip"
        )


def _bins(values: pd.Series, edges: tuple[int, ...]) -> pd.Series:
    labels = [f"{lo + 1}-{hi}" for lo, hi in zip(edges[:-1], edges[1:])]
    return pd.cut(values, list(edges), labels=labels).astype(str)


def raw() -> pd.DataFrame:
    """Both files as published, one row per person: the 15 UCI columns, numbers kept as numbers.

    >>> raw()["age"].agg(["min", "max"]).tolist()
    [17, 90]
    """
    both = pd.concat([_read("adult.data.gz", 0), _read("adult.test.gz", 1)], ignore_index=True)
    return both.dropna(subset=["income"]).reset_index(drop=True)


def persons() -> pd.DataFrame:
    """Both files, one row per person, 13 categorical columns (strings)."""
    raw_ = raw()
    out = pd.DataFrame(
        {
            "age": _bins(raw_["age"], AGE_EDGES),
            "workclass": raw_["workclass"],
            "education": raw_["education"],
            "marital_status": raw_["marital_status"],
            "occupation": raw_["occupation"],
            "relationship": raw_["relationship"],
            "race": raw_["race"],
            "sex": raw_["sex"],
            "capital_gain": _bins(raw_["capital_gain"], CAPITAL_EDGES),
            "capital_loss": _bins(raw_["capital_loss"], CAPITAL_EDGES),
            "hours_per_week": _bins(raw_["hours_per_week"], HOURS_EDGES),
            "native_country": np.where(raw_["native_country"] == "United-States", "United-States", "other"),
            "income": raw_["income"].str.rstrip("."),
        }
    )
    return out.reset_index(drop=True)


def codes(people: pd.DataFrame) -> tuple[np.ndarray, tuple[tuple[str, ...], ...]]:
    """Integer level codes (persons, attributes) and each attribute's levels (sorted)."""
    levels = tuple(tuple(sorted(people[c].unique())) for c in people.columns)
    matrix = np.stack(
        [pd.Categorical(people[c], categories=list(lv)).codes for c, lv in zip(people.columns, levels)], axis=1
    )
    return matrix.astype(np.int64), levels
