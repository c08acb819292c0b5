"""Continuous attributes (``bins``): parsed, binned from a sample's numbers, carried by personas as values.

Real data: UCI Adult's ages in years (``populace.data.adult.raw``), published as a binned
table, with a 2% sample that reports ages as numbers.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import populace as pp
from populace.data import adult
from populace.errors import SpecError
from populace.spec import Spec

pytest.importorskip("numpyro")

EDGES = (17, 25, 35, 45, 55, 65, 91)


def _write(folder: pathlib.Path, sample_ages: list[str] | None = None) -> tuple[pathlib.Path, pd.DataFrame]:
    """Age-by-sex and race tables (bins, from all 48,842 persons) and a 2% sample giving ages in years."""
    people = adult.raw()
    age = pp.Spec.from_text(f"attributes:\n  age: {{bins: {list(EDGES)}}}\nmarginals: [t.csv]\n").attributes[0]
    codes = age.bin_codes(people["age"].to_numpy())
    table = pd.crosstab(pd.Categorical.from_codes(codes, list(age.levels)), people["sex"]).stack()
    table = table.rename("count").reset_index()
    table.columns = ["age", "sex", "count"]
    table.to_csv(folder / "age_sex.csv", index=False)
    people["race"] = np.where(people["race"] == "White", "White", "other")
    people["race"].value_counts().rename("count").rename_axis("race").reset_index().to_csv(
        folder / "race.csv", index=False
    )
    sample = people.sample(frac=0.02, random_state=3)[["age", "sex", "race"]].astype(str)
    if sample_ages is not None:
        sample.loc[sample.index[: len(sample_ages)], "age"] = sample_ages
    sample.to_csv(folder / "sample.csv", index=False)
    (folder / "spec.yaml").write_text(
        f"attributes:\n  age: {{bins: {list(EDGES)}}}\n  sex: {{levels: [Female, Male]}}\n"
        "  race: {levels: [White, other]}\n"
        "marginals: [{file: age_sex.csv}, {file: race.csv}]\nmicrodata: {file: sample.csv}\n"
        "inference: {draws: 200, chains: 2}\n"
    )
    return folder / "spec.yaml", sample


def test_bins_name_ordered_levels_and_bad_bins_are_refused() -> None:
    spec = Spec.from_text("attributes:\n  age: {bins: [0, 18, 64.5, 120]}\nmarginals: [t.csv]\n")
    age = spec.attributes[0]
    assert age.levels == ("0-18", "18-64.5", "64.5-120") and age.ordered and age.continuous
    assert age.bin_codes([0, 17.9, 18, 120, 120.1, -1]).tolist() == [0, 0, 1, 2, -1, -1]
    named = Spec.from_text("attributes:\n  age: {bins: [0, 18, 120], levels: [child, adult]}\nmarginals: [t.csv]\n")
    assert named.attributes[0].levels == ("child", "adult")
    for bad, words in [
        ("{bins: [0, 18, 18]}", ["increasing"]),
        ("{bins: [0, x]}", ["'x'", "not a number"]),
        ("{bins: [5]}", ["at least two"]),
        ("{bins: [0, 1, 2], levels: [a]}", ["2 bins", "1 levels"]),
    ]:
        with pytest.raises(SpecError) as err:
            Spec.from_text(f"attributes:\n  age: {bad}\nmarginals: [t.csv]\n")
        assert all(w in str(err.value) for w in words), str(err.value)
    with pytest.raises(SpecError, match="age_value"):
        Spec.from_text("attributes:\n  age: {bins: [0, 1]}\n  age_value: {levels: [a]}\nmarginals: [t.csv]\n")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[pp.Posterior, pd.DataFrame, pathlib.Path]:
    folder = tmp_path_factory.mktemp("continuous")
    path, sample = _write(folder)
    post = pp.fit(pp.Spec.from_yaml(path), seed=2, progress=False)
    return post, sample, folder


def test_a_sample_of_numbers_is_binned_and_personas_carry_values_from_it(fitted) -> None:
    post, sample, folder = fitted
    ages = sample["age"].astype(float).to_numpy()
    truth = adult.raw()["age"].to_numpy()
    age = post.spec.attribute("age")
    # the sample's numbers were binned: its age margin is in the posterior's evidence
    assert post.joint(["age"]).sizes["age"] == len(EDGES) - 1
    people = pp.personas(post, 20_000, seed=4)
    values = people["age_value"].to_numpy()
    bins = age.bin_codes(values)
    assert (bins == people["age"].cat.codes.to_numpy()).all()  # every value inside its persona's bin
    assert np.isin(values, ages).all()  # drawn from the sample's own numbers
    for b in range(len(EDGES) - 1):  # within a bin, the sample's distribution
        mine, theirs = values[bins == b], ages[age.bin_codes(ages) == b]
        assert abs(mine.mean() - theirs.mean()) < 0.3, b
    # held-out truth: the population's mean age, from bins recovered off the tables
    assert abs(values.mean() - truth.mean()) < 0.5
    # the same personas after a save and load
    post.to_netcdf(folder / "post.nc")
    again = pp.personas(pp.load(folder / "post.nc"), 20_000, seed=4)
    assert np.array_equal(again["age_value"].to_numpy(), values)


def test_a_number_outside_the_bins_is_bad_input_naming_it(tmp_path) -> None:
    _write(tmp_path, sample_ages=["30", "130"])
    result = subprocess.run(
        [sys.executable, "-m", "populace.cli", "fit", "spec.yaml", "--out", "post.nc", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    for piece in ("sample.csv", "row 2", "'age'", "130", "17 to 91"):
        assert piece in line, line
    assert not (tmp_path / "post.nc").exists()
