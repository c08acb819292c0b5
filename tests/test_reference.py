"""docs/reference.md names every spec key, outcome-spec key and command-line option the code accepts."""

from __future__ import annotations

import argparse
import pathlib
import re

import pytest

from populace import cli, spec
from populace.outcomes import spec as outcome_spec

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def _sections(level: str) -> dict[str, str]:
    """Heading text -> the text under it, for headings of ``level`` (``##`` or ``###``).

    A section ends at the next heading of its level or above.
    """
    text = REFERENCE.read_text()
    parts = re.split(rf"^(#{{2,{len(level)}}}) (.+)$", text, flags=re.MULTILINE)
    return {parts[i + 1].strip(): parts[i + 2] for i in range(1, len(parts), 3) if parts[i] == level}


def _keys_in(text: str) -> set[str]:
    """Keys listed in the first column of the tables in ``text``."""
    return set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE))


SPEC_BLOCKS = {
    "Top level": spec.TOP_KEYS,
    "An attribute": spec.ATTRIBUTE_KEYS,
    "A `marginals` entry": spec.MARGINAL_KEYS,
    "`microdata`": spec.MICRODATA_KEYS,
    "`llm_filter`": spec.LLM_FILTER_KEYS,
    "`model`": spec.MODEL_KEYS,
    "`inference`": spec.INFERENCE_KEYS,
}


@pytest.mark.parametrize("heading", SPEC_BLOCKS)
def test_every_spec_key_is_in_its_section(heading: str) -> None:
    listed = _keys_in(_sections("###")[heading])
    assert set(SPEC_BLOCKS[heading]) == listed


def test_every_outcome_spec_key_is_listed() -> None:
    text = _sections("##")["The outcome spec (YAML)"]
    listed = _keys_in(text)
    for keys in (
        outcome_spec.OUTCOME_KEYS,
        outcome_spec.DATA_KEYS,
        outcome_spec.SIMULATOR_KEYS,
        outcome_spec.EVIDENCE_KEYS,
        outcome_spec.CORRELATED_KEYS,
        outcome_spec.LEAN_KEYS,
    ):
        assert set(keys) <= listed, sorted(set(keys) - listed)


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_option_of_every_command_is_in_its_section(command: str) -> None:
    sections = {
        heading.split()[1].strip("`"): body
        for heading, body in _sections("###").items()
        if heading.startswith("`populace ")
    }
    assert command in sections, f"no section for populace {command}"
    options = {
        s for action in _commands()[command]._actions for s in action.option_strings if s not in ("-h", "--help")
    }
    assert options, command
    assert options == _keys_in(sections[command])


def test_defaults_in_the_reference_are_the_codes() -> None:
    """The defaults the tables state for the spec are the ones the code applies."""
    text = _sections("###")

    def default(heading: str, key: str) -> str:
        row = re.search(rf"^\| `{key}` \| ([^|]+) \|", text[heading], flags=re.MULTILINE)
        assert row, (heading, key)
        return row.group(1).strip().strip("`")

    assert default("`inference`", "method") == spec.DEFAULT_METHOD
    assert int(default("`inference`", "draws")) == spec.DEFAULT_DRAWS
    assert int(default("`inference`", "chains")) == spec.DEFAULT_CHAINS
    assert int(default("`inference`", "seed")) == spec.DEFAULT_SEED
    assert int(default("`model`", "interactions")) == spec.DEFAULT_INTERACTIONS
    assert default("`llm_filter`", "model") == spec.DEFAULT_MODEL
    assert default("`llm_filter`", "cache") == spec.DEFAULT_CACHE
    options = spec.FilterOptions()
    for key in ("scorer", "mode", "weights", "order"):
        assert default("`llm_filter`", key) == getattr(options, key)
