"""The spec: what the population looks like and where the evidence lies.

A :class:`Spec` is an immutable description (section 1 of DESIGN.md). Reading it checks
the keys and the attribute declarations only; the data files are read and checked by
:func:`populace.data.load_inputs`.
"""

from __future__ import annotations

import dataclasses
import difflib
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import yaml

from populace.errors import DataError, SpecError
from populace.inference.methods import method_names
from populace.models.base import model_kinds

TOP_KEYS = (
    "population",
    "attributes",
    "marginals",
    "microdata",
    "rules",
    "llm_filter",
    "model",
    "inference",
)
ATTRIBUTE_KEYS = ("levels", "ordered", "role", "coarse", "bins")
MARGINAL_KEYS = ("file",)
MICRODATA_KEYS = ("file", "weight")
MODEL_KEYS = ("kind", "interactions", "classes")
INFERENCE_KEYS = ("method", "draws", "chains", "seed")
LLM_FILTER_KEYS = ("scorer", "model", "mode", "cache", "template", "weights", "order")
# Where each block's keys go, for the hint when one is misplaced.
KEY_HOMES = {
    "the top level of the spec": TOP_KEYS,
    "an attribute": ATTRIBUTE_KEYS,
    "a marginals entry": MARGINAL_KEYS,
    "'microdata'": MICRODATA_KEYS,
    "'model'": MODEL_KEYS,
    "'inference'": INFERENCE_KEYS,
    "'llm_filter'": LLM_FILTER_KEYS,
}
ROLES = ("geography",)
# A persona's column holding the value drawn within a continuous attribute's bin.
VALUE_SUFFIX = "_value"
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
# What YAML writes for "nothing": BaseLoader keeps these as text, so an empty or null
# block (`inference:`, `llm_filter: null`) must be recognised by hand.
NULL_WORDS = ("", "~", "null", "Null", "NULL")

# The llm_filter block's choices (DESIGN.md section 4; populace.llm_filter).
MODES = ("contrastive", "yes-no")
WEIGHTS = ("single", "per-pair")
ORDERS = ("pairs", "full")
# The documented default model: the best scorer on the labelled plausibility set
# (benchmarks/plausibility.py, BENCHMARKS.md).
DEFAULT_MODEL = "gemma3-270m"
DEFAULT_CACHE = ".populace-cache.sqlite"

# Sampler defaults of the command line contract (DESIGN.md section 2).
DEFAULT_METHOD = "nuts"
DEFAULT_DRAWS = 1000
DEFAULT_CHAINS = 4
DEFAULT_SEED = 0
# Pairwise terms plus three-way terms shrunk hard (their global scale is half the
# pairwise one). On the CPS 1988 example three-way terms lifted 90% interval coverage of
# cells with >= 10 persons from 0.85 to 0.89 at the same TVD (BENCHMARKS.md).
DEFAULT_INTERACTIONS = 3


@dataclasses.dataclass(frozen=True, kw_only=True)
class Attribute:
    """A categorical attribute with named levels, in declared order.

    ``coarse`` names sets of levels that a sample may report instead of one level (the
    CCES asks college yes/no where the census tables have five education levels): a
    sample value that is a coarse name stands for any level of its set, and the
    likelihood sums over the set.

    ``bins`` makes the attribute continuous: the edges of its levels, which are its bins
    (left-closed, ``[e_0, e_1)``, ..., the last bin closed on the right). The model works
    on the bins; a sample may report a number, which falls into its bin; personas carry a
    value drawn within the bin (:mod:`populace.continuous`).

    Examples
    --------
    >>> edu = Attribute(name="edu", levels=("hs", "some", "ba", "grad"), coarse={"college": ("ba", "grad")})
    >>> edu.coarse_names, edu.coarse_sets
    (('college',), ((2, 3),))
    >>> age = Attribute(name="age", levels=("18-30", "30-65", "65+"), bins=(18, 30, 65, 100))
    >>> age.continuous, age.bin_codes([18, 29.5, 30, 100, 101]).tolist()
    (True, [0, 0, 1, 2, -1])
    """

    name: str
    levels: tuple[str, ...]
    ordered: bool = False
    role: str | None = None
    coarse: Mapping[str, tuple[str, ...]] | tuple[tuple[str, tuple[str, ...]], ...] = ()
    bins: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.levels) < 1:
            raise SpecError(f"attribute '{self.name}' has no levels")
        object.__setattr__(self, "bins", tuple(float(e) for e in self.bins))
        if self.bins:
            edges = np.asarray(self.bins)
            if not np.isfinite(edges).all() or (np.diff(edges) <= 0).any():
                raise SpecError(f"attribute '{self.name}': bins must be finite and increasing, got {list(self.bins)}")
            if len(edges) != len(self.levels) + 1:
                raise SpecError(
                    f"attribute '{self.name}': {len(edges)} bin edges make {len(edges) - 1} bins, "
                    f"but it names {len(self.levels)} levels"
                )
        if len(set(self.levels)) != len(self.levels):
            dup = next(v for v in self.levels if self.levels.count(v) > 1)
            raise SpecError(f"attribute '{self.name}' lists level '{dup}' twice")
        items = self.coarse.items() if isinstance(self.coarse, Mapping) else self.coarse
        coarse = tuple((str(k), tuple(str(v) for v in vs)) for k, vs in items)
        object.__setattr__(self, "coarse", coarse)
        for group, members in coarse:
            if group in self.levels:
                raise SpecError(f"attribute '{self.name}': coarse name '{group}' is also a level")
            if not members:
                raise SpecError(f"attribute '{self.name}': coarse '{group}' lists no levels")
            for member in members:
                if member not in self.levels:
                    raise SpecError(
                        f"attribute '{self.name}': coarse '{group}' names '{member}', not a level "
                        f"(levels: {', '.join(self.levels)})"
                    )
        names = [g for g, _ in coarse]
        if len(set(names)) != len(names):
            raise SpecError(f"attribute '{self.name}' declares a coarse name twice")

    @property
    def continuous(self) -> bool:
        """Whether the attribute is a continuous one binned by ``bins``."""
        return bool(self.bins)

    def bin_codes(self, values: Any) -> np.ndarray:
        """The bin of each value (-1 outside the edges): left-closed bins, the last closed on the right."""
        edges = np.asarray(self.bins)
        values = np.asarray(values, dtype=float)
        codes = np.searchsorted(edges, values, side="right") - 1
        codes[values == edges[-1]] = len(edges) - 2
        codes[(values < edges[0]) | (values > edges[-1]) | ~np.isfinite(values)] = -1
        return codes

    @property
    def coarse_names(self) -> tuple[str, ...]:
        """Names of the coarse sets, in declared order."""
        return tuple(g for g, _ in self.coarse)

    @property
    def coarse_sets(self) -> tuple[tuple[int, ...], ...]:
        """Level indices of each coarse set."""
        return tuple(tuple(self.levels.index(v) for v in members) for _, members in self.coarse)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TableSource:
    """A CSV input: a path relative to the spec, or text already in memory."""

    file: str
    text: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Microdata:
    """A weighted sample of individuals; ``weight`` names the weight column."""

    source: TableSource
    weight: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """Which model to build: ``kind``, the highest interaction order, and latent classes.

    ``classes`` is the number of latent classes of the ``decomposable`` kind (0: none;
    None: the kind's default).
    """

    kind: str = "loglinear"
    interactions: int = DEFAULT_INTERACTIONS
    classes: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilterOptions:
    """The spec's ``llm_filter`` block, checked.

    Attributes
    ----------
    scorer
        ``causal-lm``, ``rules-only`` or a registered name.
    model
        For ``causal-lm``: a packaged model name, a GGUF file or a transformers folder
        (relative paths are relative to the spec). Default :data:`DEFAULT_MODEL`.
    mode
        ``contrastive`` or ``yes-no``.
    cache
        SQLite score cache (relative to the spec).
    template
        A prompt template YAML file (relative to the spec); None: the built-in one.
    weights
        ``single``: one learned weight for all plausibility terms; ``per-pair``: one each.
    order
        ``pairs`` (scales with attributes) or ``full`` (every cell; small grids).
    """

    scorer: str = "causal-lm"
    model: str = DEFAULT_MODEL
    mode: str = "contrastive"
    cache: str = DEFAULT_CACHE
    template: str | None = None
    weights: str = "single"
    order: str = "pairs"

    @classmethod
    def from_mapping(cls, block: Mapping[str, str], where: str) -> FilterOptions:
        """Build and check options from the spec's block; ``where`` names the spec in errors."""
        options = cls(**{k: str(v) for k, v in block.items()})
        for key, allowed in (("mode", MODES), ("weights", WEIGHTS), ("order", ORDERS)):
            value = getattr(options, key)
            if value not in allowed:
                raise SpecError(f"{where}: llm_filter.{key} '{value}' is unknown (use one of {', '.join(allowed)})")
        return options

    def to_mapping(self) -> dict[str, str]:
        """The non-default fields, as the spec block."""
        defaults = FilterOptions()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(defaults, f.name)
        } or {"scorer": self.scorer}


@dataclasses.dataclass(frozen=True, kw_only=True)
class InferenceOptions:
    """How to fit: method, draws per chain, chains and seed."""

    method: str = DEFAULT_METHOD
    draws: int = DEFAULT_DRAWS
    chains: int = DEFAULT_CHAINS
    seed: int = DEFAULT_SEED


@dataclasses.dataclass(frozen=True, kw_only=True)
class Spec:
    r"""A population to recover: attributes, evidence, rules and fitting options.

    Examples
    --------
    >>> import populace as pp
    >>> spec = pp.Spec(
    ...     attributes=[pp.Attribute(name="sex", levels=("female", "male"))],
    ...     marginals=[pp.TableSource(file="sex.csv", text="sex,count\\nfemale,52\\nmale,48\\n")],
    ... )
    >>> spec.shape
    (2,)
    """

    attributes: tuple[Attribute, ...]
    marginals: tuple[TableSource, ...] = ()
    microdata: Microdata | None = None
    rules: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] = ()
    population: float | None = None
    model: ModelOptions = ModelOptions()
    inference: InferenceOptions = InferenceOptions()
    llm_filter: FilterOptions | Mapping[str, str] | None = None
    base_dir: pathlib.Path = pathlib.Path(".")
    name: str = "spec"
    text: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "marginals", tuple(self.marginals))
        object.__setattr__(self, "rules", tuple(_freeze_rule(r) for r in self.rules))
        names = [a.name for a in self.attributes]
        if not names:
            raise SpecError(f"{self.name}: 'attributes' is empty; declare at least one")
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise SpecError(f"{self.name}: attribute '{dup}' is declared twice")
        for reserved in ("count", "se", "persona_id", "draw", "mean", "sd", "lower", "upper"):
            if reserved in names:
                raise SpecError(f"{self.name}: '{reserved}' is reserved and cannot name an attribute")
        for a in self.attributes:
            if a.continuous and f"{a.name}{VALUE_SUFFIX}" in names:
                raise SpecError(
                    f"{self.name}: attribute '{a.name}{VALUE_SUFFIX}' would clash with the values personas carry "
                    f"for the continuous attribute '{a.name}'; rename it"
                )
        if not self.marginals and self.microdata is None:
            raise SpecError(f"{self.name}: give at least one of 'marginals' or 'microdata'")
        if self.model.interactions < 1:
            raise SpecError(f"{self.name}: model.interactions must be at least 1, got {self.model.interactions}")
        _check_inference(self.inference, self.name)
        if self.llm_filter is not None and not isinstance(self.llm_filter, FilterOptions):
            object.__setattr__(self, "llm_filter", FilterOptions.from_mapping(self.llm_filter, self.name))
        for i, rule in enumerate(self.rules, start=1):
            for key, values in rule:
                if key not in names:
                    raise SpecError(
                        f"{self.name}: rule {i} names unknown attribute '{key}' (attributes: {', '.join(names)})"
                    )
                levels = self.attribute(key).levels
                for v in values:
                    if v not in levels:
                        raise SpecError(
                            f"{self.name}: rule {i}: '{v}' is not a level of '{key}' (levels: {', '.join(levels)})"
                        )

    @property
    def names(self) -> tuple[str, ...]:
        """Attribute names in declared order."""
        return tuple(a.name for a in self.attributes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of levels of each attribute: the shape of the cell grid."""
        return tuple(len(a.levels) for a in self.attributes)

    def attribute(self, name: str) -> Attribute:
        """Return the attribute called ``name``."""
        for a in self.attributes:
            if a.name == name:
                return a
        raise SpecError(f"{self.name}: unknown attribute '{name}' (attributes: {', '.join(self.names)})")

    def check_by(self, by: Sequence[str] | None) -> list[str]:
        r"""The attributes a table is taken over: ``by`` checked (default: all attributes).

        Raises
        ------
        DataError
            ``by`` names an unknown attribute or one attribute twice.

        Examples
        --------
        >>> table = TableSource(file="sex.csv", text="sex,count\nf,1\nm,1\n")
        >>> spec = Spec(attributes=(Attribute(name="sex", levels=("f", "m")),), marginals=[table])
        >>> spec.check_by(None), spec.check_by(["sex"])
        (['sex'], ['sex'])
        """
        if by is None:
            return list(self.names)
        by = list(by)
        for name in by:
            if name not in self.names:
                known = ", ".join(self.names)
                raise DataError(f"by names unknown attribute '{name}' (attributes: {known})", value=name)
        if len(set(by)) != len(by):
            raise DataError(f"by lists an attribute twice: {','.join(by)}")
        return by

    def with_inference(self, **changes: Any) -> Spec:
        """Return a copy with some inference options replaced (``None`` keeps the old one)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        options = dataclasses.replace(self.inference, **changes)
        _check_inference(options, self.name)
        return dataclasses.replace(self, inference=options)

    @classmethod
    def from_yaml(cls, path: str | pathlib.Path) -> Spec:
        """Read a spec file; paths inside it are relative to the file.

        Examples
        --------
        >>> Spec.from_yaml("spec.yaml").names
        ('region', 'ethnicity', 'smsa', 'parttime', 'education', 'wage')
        """
        path = pathlib.Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise SpecError("no such spec file", file=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read the spec: {exc}", file=str(path)) from None
        return cls.from_text(text, base_dir=path.resolve().parent, name=path.name)

    @classmethod
    def from_text(
        cls, text: str, *, base_dir: str | pathlib.Path = ".", name: str = "spec", known_kind: bool = True
    ) -> Spec:
        """Parse spec YAML from a string (used for the copy embedded in a posterior).

        ``known_kind=False`` accepts a ``model.kind`` that is not registered in this
        process: a saved posterior is read without its model.
        """
        try:
            # BaseLoader keeps every scalar as the text that was written, so levels such as
            # `no` or `12` stay strings (YAML 1.1 would turn them into False and 12).
            raw = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only str/list/dict
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise SpecError(f"{name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(raw, dict):
            raise SpecError(f"{name}: the spec must be a mapping with an 'attributes' key")
        return _from_mapping(raw, base_dir=pathlib.Path(base_dir), name=name, text=text, known_kind=known_kind)


def _freeze_rule(rule: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    items = rule.items() if isinstance(rule, Mapping) else rule
    out = []
    for key, values in items:
        if isinstance(values, str):
            values = (values,)
        out.append((str(key), tuple(str(v) for v in values)))
    return tuple(out)


def _check_inference(options: InferenceOptions, name: str) -> None:
    if options.method not in method_names():
        raise SpecError(
            f"{name}: inference method '{options.method}' is unknown (use one of {', '.join(method_names())})"
        )
    if options.draws < 1:
        raise SpecError(f"{name}: draws must be at least 1, got {options.draws}")
    if options.chains < 1:
        raise SpecError(f"{name}: chains must be at least 1, got {options.chains}")
    if options.seed < 0:
        raise SpecError(f"{name}: seed must be a non-negative integer, got {options.seed}")


def _check_keys(block: Mapping[str, Any], allowed: Iterable[str], where: str, name: str) -> None:
    allowed = tuple(allowed)
    for key in block:
        if key not in allowed:
            raise SpecError(
                f"{name}: unknown key '{key}' in {where} (allowed: {', '.join(allowed)}){key_hint(str(key), allowed)}"
            )


def key_hint(key: str, allowed: Iterable[str]) -> str:
    """Where a misplaced key belongs, or the allowed key it is closest to (empty if neither).

    Examples
    --------
    >>> key_hint("weight", MARGINAL_KEYS)
    "; 'weight' belongs in 'microdata'"
    >>> key_hint("level", ATTRIBUTE_KEYS)
    "; did you mean 'levels'?"
    >>> key_hint("colour", ATTRIBUTE_KEYS)
    ''
    """
    homes = [home for home, keys in KEY_HOMES.items() if key in keys]
    if homes:
        return f"; '{key}' belongs in {' or '.join(homes)}"
    close = difflib.get_close_matches(key, tuple(allowed), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value in NULL_WORDS)


def _mapping(value: Any, where: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"{name}: {where} must be a mapping, got {value!r}")
    return value


def _scalar(value: Any, where: str, name: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{name}: {where} must be a single value, got {value!r}")
    return value


def _integer(value: Any, where: str, name: str) -> int:
    text = _scalar(value, where, name)
    try:
        return int(text)
    except ValueError:
        raise SpecError(f"{name}: {where} must be an integer, got '{text}'") from None


def bin_labels(edges: tuple[float, ...]) -> list[str]:
    """Level names of bins with these edges: ``lo-hi`` each.

    >>> bin_labels((0, 18, 64.5, 120))
    ['0-18', '18-64.5', '64.5-120']
    """
    return [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]


def _bins(value: Any, attr_name: str, name: str) -> tuple[float, ...]:
    """An attribute's ``bins``: a list of at least two numbers, or nothing."""
    if _absent(value):
        return ()
    where = f"attributes.{attr_name}.bins"
    if not isinstance(value, list) or len(value) < 2:
        raise SpecError(f"{name}: {where} must be a list of at least two bin edges")
    edges = []
    for item in value:
        text = _scalar(item, where, name)
        try:
            edges.append(float(text))
        except ValueError:
            raise SpecError(f"{name}: {where} has '{text}', not a number") from None
    return tuple(edges)


def _boolean(value: Any, where: str, name: str) -> bool:
    text = _scalar(value, where, name).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise SpecError(f"{name}: {where} must be true or false, got '{text}'")


def _from_mapping(raw: dict[str, Any], *, base_dir: pathlib.Path, name: str, text: str, known_kind: bool) -> Spec:
    _check_keys(raw, TOP_KEYS, "the spec", name)
    if "attributes" not in raw:
        raise SpecError(f"{name}: missing key 'attributes'")
    attributes = []
    for attr_name, block in _mapping(raw["attributes"], "'attributes'", name).items():
        block = _mapping(block, f"attribute '{attr_name}'", name)
        _check_keys(block, ATTRIBUTE_KEYS, f"attribute '{attr_name}'", name)
        bins = _bins(block.get("bins"), attr_name, name)
        levels = block.get("levels", bin_labels(bins) if bins else None)
        if not isinstance(levels, list) or not levels:
            raise SpecError(f"{name}: attribute '{attr_name}' needs a non-empty list 'levels' (or 'bins')")
        for level in levels:
            if not isinstance(level, str):
                raise SpecError(f"{name}: attribute '{attr_name}' has a level that is not a single value: {level!r}")
        role = block.get("role")
        if role is not None and role not in ROLES:
            raise SpecError(
                f"{name}: attribute '{attr_name}' has unknown role '{role}' (use one of {', '.join(ROLES)})"
            )
        ordered = bool(bins)
        if "ordered" in block:
            ordered = _boolean(block["ordered"], f"attributes.{attr_name}.ordered", name)
        coarse = {}
        if not _absent(block.get("coarse")):
            for group, members in _mapping(block["coarse"], f"attributes.{attr_name}.coarse", name).items():
                if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                    raise SpecError(f"{name}: attributes.{attr_name}.coarse.{group} must be a list of levels")
                coarse[group] = tuple(members)
        try:
            attributes.append(
                Attribute(name=attr_name, levels=tuple(levels), ordered=ordered, role=role, coarse=coarse, bins=bins)
            )
        except SpecError as exc:
            raise SpecError(f"{name}: {exc}") from None

    marginals = []
    entries = raw.get("marginals") or []
    if not isinstance(entries, list):
        raise SpecError(f"{name}: 'marginals' must be a list of {{file: ...}} entries")
    for i, entry in enumerate(entries, start=1):
        entry = {"file": entry} if isinstance(entry, str) else _mapping(entry, f"marginals entry {i}", name)
        _check_keys(entry, MARGINAL_KEYS, f"marginals entry {i}", name)
        if "file" not in entry:
            raise SpecError(f"{name}: marginals entry {i} needs a 'file'")
        marginals.append(TableSource(file=_scalar(entry["file"], f"marginals entry {i} file", name)))

    microdata = None
    if not _absent(raw.get("microdata")):
        block = _mapping(raw["microdata"], "'microdata'", name)
        _check_keys(block, MICRODATA_KEYS, "'microdata'", name)
        if "file" not in block:
            raise SpecError(f"{name}: 'microdata' needs a 'file'")
        weight = block.get("weight")
        microdata = Microdata(
            source=TableSource(file=_scalar(block["file"], "microdata file", name)),
            weight=None if _absent(weight) else _scalar(weight, "microdata weight", name),
        )

    rules = []
    entries = raw.get("rules") or []
    if not isinstance(entries, list):
        raise SpecError(f"{name}: 'rules' must be a list of mappings such as {{age: '0-17', marital: married}}")
    for i, rule in enumerate(entries, start=1):
        rule = _mapping(rule, f"rule {i}", name)
        if not rule:
            raise SpecError(f"{name}: rule {i} is empty")
        frozen = []
        for key, values in rule.items():
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise SpecError(f"{name}: rule {i}: '{key}' must be a level or a list of levels")
            frozen.append((key, tuple(values)))
        rules.append(tuple(frozen))

    model = ModelOptions()
    if not _absent(raw.get("model")):
        block = _mapping(raw["model"], "'model'", name)
        _check_keys(block, MODEL_KEYS, "'model'", name)
        model = ModelOptions(
            kind=_scalar(block.get("kind", "loglinear"), "model.kind", name),
            interactions=_integer(block.get("interactions", str(DEFAULT_INTERACTIONS)), "model.interactions", name),
            classes=None if _absent(block.get("classes")) else _integer(block["classes"], "model.classes", name),
        )
        if model.classes is not None and (model.classes < 0 or model.classes == 1):
            raise SpecError(f"{name}: model.classes must be 0 (none) or at least 2, got {model.classes}")
        if known_kind and model.kind not in model_kinds():
            raise SpecError(f"{name}: model.kind '{model.kind}' is unknown (use one of {', '.join(model_kinds())})")

    inference = InferenceOptions()
    if not _absent(raw.get("inference")):
        block = _mapping(raw["inference"], "'inference'", name)
        _check_keys(block, INFERENCE_KEYS, "'inference'", name)
        inference = InferenceOptions(
            method=_scalar(block.get("method", DEFAULT_METHOD), "inference.method", name),
            draws=_integer(block.get("draws", str(DEFAULT_DRAWS)), "inference.draws", name),
            chains=_integer(block.get("chains", str(DEFAULT_CHAINS)), "inference.chains", name),
            seed=_integer(block.get("seed", str(DEFAULT_SEED)), "inference.seed", name),
        )

    llm_filter = None
    if not _absent(raw.get("llm_filter")):
        block = _mapping(raw["llm_filter"], "'llm_filter'", name)
        _check_keys(block, LLM_FILTER_KEYS, "'llm_filter'", name)
        for key, value in block.items():
            _scalar(value, f"llm_filter.{key}", name)
        llm_filter = FilterOptions.from_mapping(block, name)

    population = None
    if not _absent(raw.get("population")):
        text_value = _scalar(raw["population"], "population", name)
        try:
            population = float(text_value.replace("_", ""))
        except ValueError:
            raise SpecError(f"{name}: population must be a number, got '{text_value}'") from None
        if not population > 0:
            raise SpecError(f"{name}: population must be positive, got '{text_value}'")

    return Spec(
        attributes=tuple(attributes),
        marginals=tuple(marginals),
        microdata=microdata,
        rules=tuple(rules),
        population=population,
        model=model,
        inference=inference,
        llm_filter=llm_filter,
        base_dir=base_dir,
        name=name,
        text=text,
    )


def rule_mask(spec: Spec) -> Sequence[tuple[tuple[int, tuple[int, ...]], ...]]:
    """Rules as attribute positions and level indices, for building the support mask."""
    out = []
    for rule in spec.rules:
        out.append(tuple((spec.names.index(k), tuple(spec.attribute(k).levels.index(v) for v in vs)) for k, vs in rule))
    return out


def spec_to_yaml(spec: Spec) -> str:
    """Write a spec as YAML that :meth:`Spec.from_text` reads back to an equal spec.

    Marginal and microdata entries keep their file names; their contents travel
    separately (a posterior file embeds them).
    """
    if spec.text is not None:
        return spec.text
    doc: dict[str, Any] = {}
    if spec.population is not None:
        doc["population"] = spec.population
    doc["attributes"] = {}
    for a in spec.attributes:
        block: dict[str, Any] = {"levels": list(a.levels)}
        if a.ordered:
            block["ordered"] = True
        if a.role:
            block["role"] = a.role
        if a.coarse:
            block["coarse"] = {g: list(m) for g, m in a.coarse}
        if a.bins:
            block["bins"] = list(a.bins)
        doc["attributes"][a.name] = block
    if spec.marginals:
        doc["marginals"] = [{"file": m.file} for m in spec.marginals]
    if spec.microdata is not None:
        doc["microdata"] = {"file": spec.microdata.source.file}
        if spec.microdata.weight:
            doc["microdata"]["weight"] = spec.microdata.weight
    if spec.rules:
        doc["rules"] = [{k: list(v) for k, v in rule} for rule in spec.rules]
    if spec.llm_filter is not None:
        doc["llm_filter"] = spec.llm_filter.to_mapping()
    doc["model"] = {k: v for k, v in dataclasses.asdict(spec.model).items() if v is not None}
    doc["inference"] = dataclasses.asdict(spec.inference)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=False)
