"""The CCES 2016 respondents of stevedata's TV16 (42,671 complete) as 17 categorical attributes.

A real population with a known joint that carries what a persona would: demography
(census division, age, sex, college degree, race, income), politics (ideology, party
identification, 2016 vote), religion (born again, importance, attendance, prayer) and four
racial-attitude items. Provenance and the coding of every level in
``populace/data/tv16/README.md``.

Of the 64,600 respondents, the 21,929 missing any attribute other than the vote are left
out (11,701 of them lack every post-election item: the four racial items and the vote), so
the table is complete. A missing vote is kept as the level ``"no vote reported"`` (did
not vote, not sure, or skipped): non-voters belong to the population.

Examples
--------
>>> people = persons()
>>> people.shape
(42671, 17)
>>> people["vote2016"].value_counts().to_dict()
{'other candidate': 22241, 'Trump': 15350, 'no vote reported': 5080}
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import pandas as pd

# Census Bureau divisions (9) of the 50 states and the District of Columbia.
DIVISIONS: dict[str, tuple[str, ...]] = {
    "New England": ("Connecticut", "Maine", "Massachusetts", "New Hampshire", "Rhode Island", "Vermont"),
    "Middle Atlantic": ("New Jersey", "New York", "Pennsylvania"),
    "East North Central": ("Illinois", "Indiana", "Michigan", "Ohio", "Wisconsin"),
    "West North Central": ("Iowa", "Kansas", "Minnesota", "Missouri", "Nebraska", "North Dakota", "South Dakota"),
    "South Atlantic": (
        "Delaware",
        "District of Columbia",
        "Florida",
        "Georgia",
        "Maryland",
        "North Carolina",
        "South Carolina",
        "Virginia",
        "West Virginia",
    ),
    "East South Central": ("Alabama", "Kentucky", "Mississippi", "Tennessee"),
    "West South Central": ("Arkansas", "Louisiana", "Oklahoma", "Texas"),
    "Mountain": ("Arizona", "Colorado", "Idaho", "Montana", "Nevada", "New Mexico", "Utah", "Wyoming"),
    "Pacific": ("Alaska", "California", "Hawaii", "Oregon", "Washington"),
}
STATE_DIVISION = {state: division for division, states in DIVISIONS.items() for state in states}

# Bin edges (right-closed) of age (2016 - birth year) and of famincr (1-12, see README).
AGE_EDGES = (17, 29, 39, 49, 59, 69, 120)
AGE_LABELS = ("18-29", "30-39", "40-49", "50-59", "60-69", "70+")
INCOME_EDGES = (0, 3, 5, 8, 10, 12)
INCOME_LABELS = ("<30k", "30-50k", "50-80k", "80-120k", "120k+")

AGREE = ("strongly disagree", "somewhat disagree", "neither", "somewhat agree", "strongly agree")
# Source code -> label of the coded columns, in the source's order (1, 2, ...).
CODED: dict[str, tuple[str, tuple[str, ...]]] = {
    "sex": ("female", ("male", "female")),  # 0, 1
    "college": ("collegeed", ("less than BA", "BA or more")),  # 0, 1
    "ideology": ("ideo", ("very liberal", "liberal", "moderate", "conservative", "very conservative")),
    "party": (
        "pid7na",
        (
            "strong Democrat",
            "weak Democrat",
            "lean Democrat",
            "independent",
            "lean Republican",
            "weak Republican",
            "strong Republican",
        ),
    ),
    "born_again": ("bornagain", ("no", "yes")),  # 0, 1
    "religion_importance": ("religimp", ("not at all", "not too", "somewhat", "very")),
    "church_attendance": (
        "churchatd",
        ("never", "seldom", "few times a year", "once or twice a month", "once a week", "more than weekly"),
    ),
    "prayer": (
        "prayerfreq",
        (
            "never",
            "seldom",
            "few times a month",
            "once a week",
            "few times a week",
            "once a day",
            "several times a day",
        ),
    ),
    # The source codes 1 = strongly agree for these two ...
    "angry_racism": ("angryracism", AGREE[::-1]),
    "white_advantage": ("whiteadv", AGREE[::-1]),
    # ... and 1 = strongly disagree for these two (stevedata reversed them).
    "fear_races": ("fearraces", AGREE),
    "racism_rare": ("racerare", AGREE),
}
VOTE = ("Trump", "other candidate", "no vote reported")
RACE = ("White", "Black", "Hispanic", "Asian", "Native American", "Middle Eastern", "Mixed", "Other")

# Every attribute's levels in their natural order (the order ``codes`` uses).
LEVELS: dict[str, tuple[str, ...]] = {
    "division": tuple(DIVISIONS),
    "age": AGE_LABELS,
    "sex": CODED["sex"][1],
    "college": CODED["college"][1],
    "race": RACE,
    "income": INCOME_LABELS,
    **{name: labels for name, (_, labels) in CODED.items() if name not in ("sex", "college")},
    "vote2016": VOTE,
}
COLUMNS = tuple(LEVELS)
# The source columns that must be known for a respondent to be kept (all but votetrump).
REQUIRED = ("state", "age", "racef", "famincr") + tuple(source for source, _ in CODED.values())


def _read() -> pd.DataFrame:
    path = importlib.resources.files("populace.data") / "tv16" / "tv16.csv.gz"
    with importlib.resources.as_file(path) as file:
        return pd.read_csv(file, compression="gzip", dtype={"state": str, "racef": str})


def _bins(values: pd.Series, edges: tuple[int, ...], labels: tuple[str, ...]) -> pd.Series:
    return pd.cut(values, list(edges), labels=list(labels)).astype(str)


def _label(values: pd.Series, labels: tuple[str, ...], first: int) -> pd.Series:
    """Source codes ``first, first + 1, ...`` to ``labels``."""
    return values.astype(int).map(dict(enumerate(labels, start=first)))


def persons() -> pd.DataFrame:
    """The complete respondents, one row each, 17 categorical columns (strings)."""
    raw = _read().dropna(subset=list(REQUIRED)).reset_index(drop=True)
    out = {
        "division": raw["state"].map(STATE_DIVISION),
        "age": _bins(raw["age"], AGE_EDGES, AGE_LABELS),
        "income": _bins(raw["famincr"], INCOME_EDGES, INCOME_LABELS),
        "race": raw["racef"],
        "vote2016": raw["votetrump"].map({1: VOTE[0], 0: VOTE[1]}).fillna(VOTE[2]),
    }
    for name, (source, labels) in CODED.items():
        out[name] = _label(raw[source], labels, first=0 if name in ("sex", "college", "born_again") else 1)
    people = pd.DataFrame({c: out[c] for c in COLUMNS})
    if people.isna().any().any():
        raise ValueError("tv16: a source value outside the documented codes")
    return people


def _levels(values: pd.Series, natural: tuple[str, ...]) -> tuple[str, ...]:
    present = set(values.unique())
    return tuple(v for v in natural if v in present) + tuple(sorted(present - set(natural)))


def codes(people: pd.DataFrame) -> tuple[np.ndarray, tuple[tuple[str, ...], ...]]:
    """Integer level codes (persons, attributes) and each attribute's levels.

    Levels are those present in ``people``: in the natural order of :data:`LEVELS` for this
    module's attributes (ages young to old, scales low to high, divisions as the Census
    Bureau numbers them), then any other value sorted (all of them, sorted, for a column
    not of this module).
    """
    levels = tuple(_levels(people[c], LEVELS.get(c, ())) for c in people.columns)
    matrix = np.stack(
        [pd.Categorical(people[c], categories=list(lv)).codes for c, lv in zip(people.columns, levels)], axis=1
    )
    return matrix.astype(np.int64), levels
