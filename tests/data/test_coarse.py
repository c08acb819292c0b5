"""Coarse answers in microdata: a sample value may name a set of an attribute's levels."""

from __future__ import annotations

import numpy as np
import pytest

import populace as pp
from populace.data.inputs import coarse_map, extend, load_inputs, take_rows
from populace.errors import DataError, SpecError

SPEC = """
attributes:
  sex: {levels: [female, male]}
  edu:
    levels: [hs, some, ba, grad]
    ordered: true
    coarse: {no college: [hs, some], college: [ba, grad]}
marginals:
  - file: sex.csv
microdata:
  file: sample.csv
"""


def _spec(tmp_path, sample_rows: str, spec: str = SPEC) -> pp.Spec:
    (tmp_path / "spec.yaml").write_text(spec)
    (tmp_path / "sex.csv").write_text("sex,count\nfemale,520\nmale,480\n")
    (tmp_path / "sample.csv").write_text("sex,edu\n" + sample_rows)
    return pp.Spec.from_yaml(tmp_path / "spec.yaml")


def test_the_spec_reads_and_writes_coarse_sets(tmp_path) -> None:
    spec = _spec(tmp_path, "female,hs\n")
    edu = spec.attribute("edu")
    assert edu.coarse_names == ("no college", "college") and edu.coarse_sets == ((0, 1), (2, 3))
    again = pp.Spec.from_text(pp.spec.spec_to_yaml(spec.__class__(**{**spec.__dict__, "text": None})))
    assert again.attribute("edu").coarse == edu.coarse


@pytest.mark.parametrize(
    ("coarse", "words"),
    [
        ("{hs: [hs, some]}", "also a level"),
        ("{college: [ba, phd]}", "'phd', not a level"),
        ("{college: []}", "lists no levels"),
        ("{college: ba}", "must be a list"),
    ],
)
def test_bad_coarse_sets_are_refused(tmp_path, coarse: str, words: str) -> None:
    text = SPEC.replace("{no college: [hs, some], college: [ba, grad]}", coarse)
    with pytest.raises(SpecError, match=words):
        _spec(tmp_path, "female,hs\n", text)


def test_coarse_rows_are_grouped_apart_with_counts_over_levels_then_sets(tmp_path) -> None:
    rows = "female,hs\nmale,college\nfemale,college\nmale,no college\nmale,grad\n,college\n"
    sample = load_inputs(_spec(tmp_path, rows)).sample
    fine = dict(sample.patterns)
    coarse = dict(sample.coarse_patterns)
    assert fine[(0, 1)].sum() + coarse[(0, 1)].sum() + coarse[(1,)].sum() == pytest.approx(sample.n_effective)
    assert coarse[(0, 1)].shape == (2, 6)
    # female,college and male,college and male,no college, each weight 1 (unweighted sample)
    assert coarse[(0, 1)][0, 5] == pytest.approx(1) and coarse[(0, 1)][1, 5] == pytest.approx(1)
    assert coarse[(0, 1)][1, 4] == pytest.approx(1) and coarse[(0, 1)][:, :4].sum() == 0
    assert coarse[(1,)].tolist() == [0, 0, 0, 0, 0, 1]
    # a bootstrap of every row gives the same groups back
    again = take_rows(sample, np.arange(sample.n_rows), load_inputs(_spec(tmp_path, rows)).spec)
    assert dict(again.coarse_patterns).keys() == coarse.keys()


def test_an_unknown_value_names_the_levels_and_the_coarse_sets(tmp_path) -> None:
    with pytest.raises(DataError) as info:
        load_inputs(_spec(tmp_path, "female,phd\n"))
    message = str(info.value)
    assert "sample.csv" in message and "row 1" in message and "'phd'" in message and "college" in message


def test_extend_sums_each_set() -> None:
    edu = pp.Attribute(name="edu", levels=("hs", "some", "ba", "grad"), coarse={"college": ("ba", "grad")})
    assert coarse_map(edu).shape == (4, 5)
    spec = pp.Spec(
        attributes=[pp.Attribute(name="sex", levels=("f", "m")), edu],
        marginals=[pp.TableSource(file="s.csv", text="sex,count\nf,1\nm,1\n")],
    )
    joint = np.arange(8, dtype=float).reshape(2, 4)
    wide = extend(joint, (0, 1), spec)
    np.testing.assert_allclose(wide[:, :4], joint)
    np.testing.assert_allclose(wide[:, 4], joint[:, 2] + joint[:, 3])


@pytest.mark.pipeline
def test_the_likelihood_sums_over_the_set(tmp_path) -> None:
    # 300 persons say only "no college" or "college" (30% college): the fit must put 30% on
    # ba + grad, and leave the split inside each set to the prior (no finer answers).
    rows = "female,college\n" * 90 + "female,no college\n" * 210
    post = pp.fit(_spec(tmp_path, rows), draws=300, chains=2, seed=1, progress=False)
    shares = post.joint(["edu"]).mean(("chain", "draw")).values
    assert shares[2] + shares[3] == pytest.approx(0.30, abs=0.04)
    report = pp.check(post)
    assert report.checks["check"].str.contains("coarse answers").any()
