"""The 2016 US presidential election as a populace case: census tables, survey, polls, results.

Reads the real data in ``populace/data/us2016/`` (provenance in its README) and writes a
case folder that the command line fits: the 50-state joint of state x race x sex x age
x education from the three ACS tables (exact) plus CCES respondents as microdata (their
college yes/no as coarse education), and outcome specs for the forecast (pre-election
vote and turnout intent, with state and national poll averages as evidence) and for the
post-election analysis (validated turnout and post-election vote).

Examples
--------
>>> list(results().columns[:2]), len(results())
(['state', 'trump'], 50)
>>> round(national_result(), 4)
0.4899
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import pathlib

import numpy as np
import pandas as pd

AGES = ("18-29", "30-39", "40-49", "50-59", "60-69", "70+")
AGE_EDGES = (17, 29, 39, 49, 59, 69, 200)
RACES = ("White", "Black", "Hispanic", "Other")
SEXES = ("female", "male")
EDUCATION = ("No HS", "HS", "Some college", "4-Year College", "Post-grad")
COARSE_EDUCATION = {"no college": EDUCATION[:3], "college": EDUCATION[3:]}
# Outcome levels: a respondent's vote, or abstaining (not voting is a level, so turnout
# differences between cells weigh the vote shares when they are post-stratified).
VOTE_LEVELS = ("trump", "clinton", "other", "abstain")
TWO_PARTY = ("trump", "clinton")
THIRD_PARTIES = ("johnson", "stein", "other", "mcmullin")
ELECTION_DAY = "2016-11-08"
# Polls averaged for the forecast: those ending in the last two weeks before election day.
POLL_DAYS = 14
# Prior sd of the error shared by all of a source's averages, and of each average's own
# error (the outcome spec's evidence ``bias`` and ``error``). State polls: the outcome
# spec's defaults (2 points each). National polls: the final national polling averages of
# 2004, 2008 and 2012 missed the two-party vote by about 0.5, 0.2 and 1.6 points (the
# RealClearPolitics final margins against the results), so 1 point shared, 0.5 its own.
NATIONAL_POLL_BIAS = 0.01
NATIONAL_POLL_ERROR = 0.005
# Prior sd of the error that every source shares (the polls, the swing built on them and
# the survey whose level they set), which no source can reveal: the root mean square of
# those three national misses, about 1 point (the outcome spec's ``common_error``).
COMMON_ERROR = 0.01
# Prior sd of the swing source's shared error: its level is the state polls' (2012 moved
# by their average swing), so it has no shared error of its own to learn, only theirs; a
# prior as tight as theirs (2 points) counted the polls' level twice. Wide, it informs the
# states' pattern only (on the Pathfinder joint, 2x300: national 47.6 to 47.7, state MAE
# 2.94 to 2.85, with the lean predictor 2.76 to 2.63).
SWING_BIAS = 0.1
# Elections whose state swings size the previous-election source's own error: the four
# before 2016 without a large third-party vote (Perot 1992 and 1996, Anderson 1980).
SWING_YEARS = (2000, 2004, 2008, 2012)


def _read(name: str) -> pd.DataFrame:
    path = importlib.resources.files("populace.data") / "us2016" / name
    with importlib.resources.as_file(path) as file:
        return pd.read_csv(file, keep_default_na=False, na_values=[""])


def states() -> tuple[str, ...]:
    """The 50 states' postal codes (no DC: the ACS tables hold the 50 states)."""
    return tuple(sorted(_read("acs_state_race.csv")["state"].unique()))


def acs_tables() -> dict[str, pd.DataFrame]:
    """The three published ACS tables of adults: by state x sex x age, state x race, state x education."""
    return {
        "state_sex_age.csv": _read("acs_state_sex_age.csv"),
        "state_race.csv": _read("acs_state_race.csv"),
        "state_education.csv": _read("acs_state_education.csv"),
    }


def cces() -> pd.DataFrame:
    """CCES 2016 respondents in the 50 states, on the case's levels.

    Columns: ``state``, ``race`` (4 levels), ``sex``, ``age`` (6 groups), ``education``
    (coarse: ``college`` or ``no college``), ``vote_pre`` (pre-election intent on
    :data:`VOTE_LEVELS`; empty for "not sure"), ``vote_post`` (post-election wave only:
    ``abstain`` for respondents not validated as voters, the reported vote for validated
    voters; empty for non-respondents of that wave and validated voters without a
    usable answer), and ``validated`` (bool).
    """
    raw = _read("cces2016.csv.gz")
    raw = raw[raw["state"].isin(states())].copy()
    out = pd.DataFrame({"state": raw["state"]})
    out["race"] = raw["race"].where(raw["race"].isin(RACES[:3]), "Other")
    out["sex"] = raw["sex"]
    out["age"] = pd.cut(raw["age"], AGE_EDGES, labels=AGES).astype(str)
    out["education"] = np.where(raw["college"] == "yes", "college", "no college")
    pre = raw["vote_intent_pre"].fillna("not sure")
    vote = pre.map({"trump": "trump", "clinton": "clinton", "will not vote": "abstain"})
    vote = vote.where(~pre.isin(("johnson", "stein", "other")), "other")
    vote = vote.where(raw["turnout_intent_pre"] != "no", "abstain")
    out["vote_pre"] = vote.fillna("")
    # Post-election: respondents of the post-election wave only; a vote file says who voted
    # (not validated: abstained), the post-election answer how (a validated voter with no
    # usable answer is dropped rather than counted as a non-voter).
    post = raw["vote_post"].map({"trump": "trump", "clinton": "clinton"})
    post = post.where(~raw["vote_post"].isin(THIRD_PARTIES), "other")
    validated = raw["validated_voter"] == "yes"
    post = post.where(validated, "abstain")
    post = post.where(raw["took_post_wave"] == "yes", None)
    out["vote_post"] = post.fillna("")
    out["validated"] = validated
    return out.reset_index(drop=True)


def results() -> pd.DataFrame:
    """Official results by state: ``trump`` (two-party share), vote counts, VAP and VEP."""
    raw = _read("results2016.csv")
    raw = raw[raw["state"].isin(states())].copy()
    raw["trump"] = raw["votes_trump"] / (raw["votes_trump"] + raw["votes_clinton"])
    return raw[["state", "trump", "votes_trump", "votes_clinton", "votes_total", "vap", "vep"]].reset_index(drop=True)


def national_result() -> float:
    """The actual national two-party Trump share (summed vote counts, 50 states)."""
    r = results()
    return float(r["votes_trump"].sum() / (r["votes_trump"].sum() + r["votes_clinton"].sum()))


def polls(days: int = POLL_DAYS, *, national: bool = False) -> pd.DataFrame:
    """State polls (or with ``national``, national polls) that ended in the ``days`` days before election day."""
    raw = _read("polls2016_national.csv" if national else "polls2016.csv")
    end = pd.to_datetime(raw["enddate"])
    day = pd.Timestamp(ELECTION_DAY)
    keep = (end < day) & (end >= day - pd.Timedelta(days=days)) & raw["samplesize"].notna()
    keep &= raw["rawpoll_trump"].notna() & raw["rawpoll_clinton"].notna()
    if not national:
        keep &= raw["state"].isin(states())
    return raw[keep].reset_index(drop=True)


def poll_average(days: int = POLL_DAYS, *, national: bool = False) -> pd.DataFrame:
    """Two-party Trump share by state (or nationally): the plain mean of the recent polls' two-party shares.

    Returns
    -------
    pandas.DataFrame
        ``state`` (absent with ``national``), ``share``, ``se`` (binomial, on the polls'
        pooled two-party respondents; it ignores house effects and shared error, which
        the outcome model adds), ``polls`` and ``respondents``. States without a recent
        poll are absent.

    Examples
    --------
    >>> round(float(poll_average(national=True)["share"].iloc[0]), 3)
    0.487
    """
    p = polls(days, national=national)
    two = p["samplesize"] * (p["rawpoll_trump"] + p["rawpoll_clinton"]) / 100
    frame = pd.DataFrame(
        {
            "state": "US" if national else p["state"],
            "n": two,
            "s": p["rawpoll_trump"] / (p["rawpoll_trump"] + p["rawpoll_clinton"]),
        }
    )
    grouped = frame.groupby("state").agg(n=("n", "sum"), share=("s", "mean"), polls=("n", "size"))
    share = grouped["share"]
    out = pd.DataFrame(
        {
            "state": grouped.index,
            "share": share.values,
            "se": np.sqrt(share * (1 - share) / grouped["n"]).values,
            "polls": grouped["polls"].values,
            "respondents": grouped["n"].round().astype(int).values,
        }
    )
    return out.drop(columns="state") if national else out


def share_2012() -> pd.Series:
    """2012's two-party Republican share by state.

    ``pscl::presidentialElections`` gives the Democratic share of all votes (third parties
    took 1.7% nationally in 2012), so the two-party share is taken as ``R / (R + D)``
    with ``R = 100 - D - 1.7``.
    """
    d = _read("results2012.csv").set_index("state")["dem_share_2012"]
    rep = 100 - d - 1.7
    return (rep / (rep + d)).rename("trump")


def lean_2012() -> pd.Series:
    """2012's two-party Republican log odds by state: the forecast's group-level predictor of the survey's lean.

    Examples
    --------
    >>> round(float(lean_2012()["UT"]), 2) > 1
    True
    """
    share = share_2012()
    return np.log(share / (1 - share)).rename("lean")


def national_2012() -> float:
    """2012's national two-party Republican share, states weighted by their 2016 votes."""
    votes = results().set_index("state")["votes_total"]
    return float((share_2012() * votes).sum() / votes.sum())


def uniform_swing(swing: float | None = None) -> pd.Series:
    """2012's two-party Republican share by state shifted by one national swing.

    Parameters
    ----------
    swing
        The swing; default: the average over states of (recent state poll average minus
        2012 share), weighted by voting-age population, known before election day.
    """
    return (share_2012() + (_swing() if swing is None else swing)).rename("trump")


def _swing(days: int = POLL_DAYS) -> float:
    """The polls' swing since 2012: state poll averages minus 2012 shares, weighted by voting-age population."""
    share12 = share_2012()
    vap = results().set_index("state")["vap"]
    avg = poll_average(days).set_index("state")["share"]
    both = avg.index.intersection(share12.index)
    return float(((avg[both] - share12[both]) * vap[both]).sum() / vap[both].sum())


def swing_error(years: tuple[int, ...] = SWING_YEARS) -> float:
    """How far states stray from a uniform swing: the root mean square over ``years`` and states.

    For each election, each state's change in Democratic share since the one before,
    minus the mean change over states, from ``results_history.csv`` (pscl, shares of all
    votes: a two-party share strays about as far). Only elections before 2016.

    Examples
    --------
    >>> round(swing_error(), 3)
    0.03
    """
    return float(np.sqrt(np.mean(_swing_deviations(years).to_numpy() ** 2)))


def _swing_deviations(years: tuple[int, ...]) -> pd.DataFrame:
    """States x ``years``: each state's change in Democratic share since the election before, minus the mean change."""
    history = _read("results_history.csv").pivot(index="state", columns="year", values="dem_share") / 100
    change = pd.DataFrame({year: history[year] - history[year - 4] for year in years})
    return change - change.mean()


def composition_error(years: tuple[int, ...] = SWING_YEARS) -> float:
    """How far elections tilt along the share of adults without college: the RMS slope over ``years``.

    For each election, states' deviations from a uniform swing (as in :func:`swing_error`)
    regressed on their share of adults without a four-year degree (the ACS table; its
    2014-2018 shares stand in for those of earlier years). The root mean square of the
    slopes is the prior sd of the forecast's correlated error: polls and survey may miss
    along that composition by as much as elections have moved along it. Only elections
    before 2016.

    Examples
    --------
    >>> round(composition_error(), 2)
    0.21
    """
    education = _read("acs_state_education.csv").pivot(index="state", columns="education", values="count")
    without = education[list(COARSE_EDUCATION["no college"])].sum(axis=1) / education.sum(axis=1)
    deviations = _swing_deviations(years).reindex(without.index)
    slopes = [np.polyfit(without.to_numpy(), deviations[year].to_numpy(), 1)[0] for year in years]
    return float(np.sqrt(np.mean(np.square(slopes))))


@dataclasses.dataclass(frozen=True)
class Case:
    """Files of a written case: the joint's spec, and the outcome specs."""

    folder: pathlib.Path
    spec: pathlib.Path
    forecast: pathlib.Path
    analysis: pathlib.Path


def write_case(folder: str | pathlib.Path, *, sample: int = 5000, seed: int = 0, days: int = POLL_DAYS) -> Case:
    """Write the 2016 case: the 50-state spec, its tables and sample, and two outcome specs.

    Parameters
    ----------
    folder
        Where to write (created if missing).
    sample
        CCES respondents (drawn at random) whose demographics are the joint's microdata.
        Every respondent's answers feed the outcome models.
    seed
        Seed of that draw.
    days
        Polls of the last ``days`` days before election day are the forecast's evidence.

    Returns
    -------
    Case
        ``spec`` (the joint), ``forecast`` (pre-election intent and the polls: only what
        was known before election day) and ``analysis`` (validated turnout and
        post-election vote: known only after).
    """
    import yaml

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in acs_tables().items():
        table.to_csv(folder / name, index=False)
    people = cces()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(people), size=min(sample, len(people)), replace=False)
    demographics = ["state", "race", "sex", "age", "education"]
    people.iloc[np.sort(rows)][demographics].to_csv(folder / "sample.csv", index=False)
    people[demographics + ["vote_pre"]].to_csv(folder / "survey_pre.csv", index=False)
    people[demographics + ["vote_post"]].to_csv(folder / "survey_post.csv", index=False)
    poll_average(days)[["state", "share", "se"]].to_csv(folder / "polls.csv", index=False)
    poll_average(days, national=True)[["share", "se"]].to_csv(folder / "polls_national.csv", index=False)
    swing = uniform_swing(_swing(days)).rename("share").rename_axis("state").reset_index()
    swing.assign(se=0.0).to_csv(folder / "swing2012.csv", index=False)
    lean_2012().reindex(list(states())).rename_axis("state").reset_index().to_csv(folder / "lean2012.csv", index=False)
    spec = {
        "attributes": {
            "state": {"levels": list(states()), "role": "geography"},
            "race": {"levels": list(RACES)},
            "sex": {"levels": list(SEXES)},
            "age": {"levels": list(AGES), "ordered": True},
            "education": {
                "levels": list(EDUCATION),
                "ordered": True,
                "coarse": {k: list(v) for k, v in COARSE_EDUCATION.items()},
            },
        },
        "marginals": [{"file": name} for name in acs_tables()],
        "microdata": {"file": "sample.csv"},
    }
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    outcome = {
        "outcome": "vote_pre",
        "levels": list(VOTE_LEVELS),
        "data": {"file": "survey_pre.csv"},
        "predictors": demographics,
        "by": ["state"],
        "evidence": [
            {"file": "polls.csv", "share": ["trump"], "among": list(TWO_PARTY)},
            {
                "file": "polls_national.csv",
                "share": ["trump"],
                "among": list(TWO_PARTY),
                "bias": NATIONAL_POLL_BIAS,
                "error": NATIONAL_POLL_ERROR,
            },
            {
                "file": "swing2012.csv",
                "share": ["trump"],
                "among": list(TWO_PARTY),
                "bias": SWING_BIAS,
                "error": round(swing_error(), 3),
            },
        ],
        # errors every source shares, drawn from their priors: all polls off together, and
        # off together along the share without college
        "common_error": COMMON_ERROR,
        "correlated_error": {
            "attribute": "education",
            "levels": list(COARSE_EDUCATION["no college"]),
            "sd": round(composition_error(), 3),
        },
        # the survey's lean from the polls by state may grow with the state's partisanship
        # (an opt-in panel short of partisans where they are many): 2012's log odds
        "lean_predictor": {"file": "lean2012.csv", "column": "lean"},
    }
    (folder / "forecast.yaml").write_text(yaml.safe_dump(outcome, sort_keys=False))
    analysis = {**outcome, "outcome": "vote_post", "data": {"file": "survey_post.csv"}}
    for key in ("evidence", "common_error", "correlated_error", "lean_predictor"):
        del analysis[key]
    (folder / "analysis.yaml").write_text(yaml.safe_dump(analysis, sort_keys=False))
    return Case(
        folder=folder, spec=folder / "spec.yaml", forecast=folder / "forecast.yaml", analysis=folder / "analysis.yaml"
    )
