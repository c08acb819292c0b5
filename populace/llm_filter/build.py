"""Build a spec's scorer and its plausibility terms (the glue between the spec and the model)."""

from __future__ import annotations

import pathlib
from typing import Any

from populace.errors import SpecError
from populace.llm_filter.assemble import PlausibilityTerm, plausibility_terms
from populace.llm_filter.scorers import FilterOptions, RulesOnlyScorer, registered
from populace.llm_filter.template import load_template


def _resolve(base_dir: pathlib.Path, path: str) -> pathlib.Path:
    candidate = pathlib.Path(path).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate


def build_scorer(
    options: FilterOptions, base_dir: pathlib.Path, attributes: dict[str, tuple[str, ...]], *, progress: bool = True
) -> object:
    """The scorer a spec's ``llm_filter`` block asks for (a language model is loaded here).

    Raises
    ------
    SpecError
        Unknown scorer name, or a template that cannot describe some level.
    DataError
        The model cannot be found or loaded.
    """
    if options.scorer == "rules-only":
        return RulesOnlyScorer()
    if options.scorer == "causal-lm":
        from populace.language_models import resolve_model
        from populace.llm_filter.language_model import LanguageModelScorer

        template = load_template(None if options.template is None else _resolve(base_dir, options.template))
        template.check_covers(attributes)
        model = resolve_model(options.model, base_dir)
        return LanguageModelScorer(model, template, options.mode, progress=progress)
    factory = registered(options.scorer)
    if factory is None:
        raise SpecError(
            f"llm_filter.scorer '{options.scorer}' is unknown (use causal-lm, rules-only, or a name registered "
            "with populace.llm_filter.register_scorer)"
        )
    return factory()


def spec_terms(
    spec: Any, inputs: Any, scorer: object | None = None, *, progress: bool = True
) -> tuple[tuple[PlausibilityTerm, ...], FilterOptions]:
    """Plausibility terms for a spec: scored pairs of its non-geography attributes.

    Pairs that an exact table covers are skipped (the table fixes their interaction).

    Parameters
    ----------
    spec, inputs
        The spec and its checked inputs.
    scorer
        A scorer object to use instead of the one the spec names.
    progress
        Progress bars on stderr.

    Returns
    -------
    terms, options
        The terms (axes index the full grid) and the filter options used.
    """
    options = spec.llm_filter or FilterOptions(scorer="custom", cache="")
    names = [a.name for a in spec.attributes if a.role != "geography"]
    attributes = {n: spec.attribute(n).levels for n in names}
    if scorer is None:
        scorer = build_scorer(options, spec.base_dir, attributes, progress=progress)
    exact_sets = [set(t.axes) for t in inputs.exact_tables]
    skip = [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if any({spec.names.index(a), spec.names.index(b)} <= axes for axes in exact_sets)
    ]
    cache = _resolve(spec.base_dir, options.cache) if options.cache else None
    terms = plausibility_terms(attributes, scorer, order=options.order, skip=skip, cache=cache, progress=progress)
    on_grid = tuple(
        PlausibilityTerm(names=t.names, axes=tuple(spec.names.index(n) for n in t.names), table=t.table) for t in terms
    )
    return on_grid, options
