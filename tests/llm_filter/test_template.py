"""Prompt templates: sentences per level, versioned keys, and clear errors for bad templates."""

from __future__ import annotations

import pathlib

import pytest

from populace.errors import SpecError
from populace.llm_filter.template import load_template, parse_template

GOOD = """
version: t1
preamble: "About a person."
fallback: "Their {attribute} is {level}."
attributes:
  age: {default: "They are {level} years old.", levels: {"0-15": "They are a child."}}
"""


def test_built_in_template_describes_any_attribute() -> None:
    template = load_template()
    assert template.sentence("age", "70") == "This person is 70 years old."
    assert template.sentence("home_state", "new_york") == "This person's home state is new york."
    assert template.description({"age": "70", "employment": "retired"}).count("This person") == 2


def test_levels_override_the_default_and_underscores_become_spaces() -> None:
    template = parse_template(GOOD, source="t.yaml")
    assert template.sentence("age", "0-15") == "They are a child."
    assert template.sentence("age", "16") == "They are 16 years old."
    assert template.sentence("work_status", "not_working") == "Their work status is not working."


def test_the_key_changes_with_the_content_not_only_the_version() -> None:
    a = parse_template(GOOD, source="a")
    b = parse_template(GOOD.replace("About a person.", "About someone."), source="b")
    assert a.key.startswith("t1:") and b.key.startswith("t1:") and a.key != b.key
    assert parse_template(GOOD, source="c").key == a.key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("They are {level} years old.", "They are old."), "lacks the placeholder {level}"),
        (GOOD.replace("{attribute}", "{name}"), "placeholder other than"),
        (GOOD + "colour: red\n", "unknown template key 'colour'"),
        ("version: t1\n", "needs a non-empty 'preamble'"),
        (GOOD.replace("default:", "defualt:"), "unknown key 'defualt'"),
        ("version: [", "not valid YAML"),
    ],
)
def test_bad_templates_name_the_file_and_the_problem(text: str, expected: str) -> None:
    with pytest.raises(SpecError, match="bad.yaml") as info:
        parse_template(text, source="bad.yaml")
    assert expected in str(info.value)


def test_an_attribute_without_sentence_or_fallback_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(GOOD.replace('fallback: "Their {attribute} is {level}."\n', ""))
    template = load_template(path)
    with pytest.raises(SpecError, match="no sentence for attribute 'sex'"):
        template.check_covers({"age": ("16",), "sex": ("female",)})
    with pytest.raises(SpecError, match="cannot read"):
        load_template(tmp_path / "missing.yaml")
