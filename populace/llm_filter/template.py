r"""Prompt templates: how a combination of attribute levels becomes text for a language model.

A template is a small, versioned YAML document. Each attribute level becomes one sentence
about the person (``default`` with ``{level}`` filled in, or a sentence written for that
level); a description is the ``preamble`` followed by the sentences in order. The yes/no
mode appends ``question``. The version and a hash of the whole template are part of the
score cache key, so editing a template never reuses stale scores.

Example (``populace/llm_filter/data/default_template.yaml`` is the built-in one)::

    version: census-v1
    preamble: "The following describes one person living in the United States."
    question: "Question: Could this be a real person? Answer yes or no.\nAnswer:"
    fallback: "This person's {attribute} is {level}."
    attributes:
      age: {default: "This person is {level} years old."}
      employment:
        default: "This person is {level}."
        levels: {not_in_labor_force: "This person is not in the labor force."}
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
import pathlib
from collections.abc import Mapping
from typing import Any

import yaml

from populace.errors import SpecError

TEMPLATE_KEYS = ("version", "preamble", "question", "fallback", "attributes")
ATTRIBUTE_TEMPLATE_KEYS = ("default", "levels")
DEFAULT_TEMPLATE = "default_template.yaml"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PromptTemplate:
    """A versioned prompt template (see the module docstring for the YAML form)."""

    version: str
    preamble: str
    question: str
    fallback: str | None
    attributes: Mapping[str, Mapping[str, Any]]
    source: str

    @property
    def key(self) -> str:
        """Cache key: the version and a hash of the template's content."""
        content = json.dumps(
            [self.version, self.preamble, self.question, self.fallback, self.attributes], sort_keys=True
        )
        return f"{self.version}:{hashlib.sha256(content.encode()).hexdigest()[:12]}"

    def sentence(self, attribute: str, level: str) -> str:
        """One sentence saying that the person has ``level`` of ``attribute``."""
        block = self.attributes.get(attribute)
        if block is not None and level in block.get("levels", {}):
            return str(block["levels"][level])
        pattern = block.get("default") if block is not None else self.fallback
        if pattern is None:
            raise SpecError(
                f"{self.source}: the template has no sentence for attribute '{attribute}' "
                "(add it under 'attributes' or give a 'fallback')"
            )
        return pattern.format(attribute=attribute.replace("_", " "), level=level.replace("_", " "))

    def description(self, combination: Mapping[str, str]) -> str:
        """The sentences of a combination, in its order (without the preamble)."""
        return " ".join(self.sentence(a, v) for a, v in combination.items())

    def check_covers(self, attributes: Mapping[str, tuple[str, ...]]) -> None:
        """Raise SpecError unless every level of every attribute gets a sentence."""
        for name, levels in attributes.items():
            for level in levels:
                self.sentence(name, level)


def load_template(path: str | pathlib.Path | None = None) -> PromptTemplate:
    """Read a template file, or the built-in default when ``path`` is None.

    Raises
    ------
    SpecError
        The file is missing or unreadable, a key is unknown, or a pattern lacks the
        placeholders it needs (``{level}``) or uses one that does not exist.
    """
    if path is None:
        resource = importlib.resources.files("populace.llm_filter") / "data" / DEFAULT_TEMPLATE
        return parse_template(resource.read_text(encoding="utf-8"), source=f"built-in {DEFAULT_TEMPLATE}")
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the prompt template ({exc.strerror or exc})") from None
    return parse_template(text, source=str(path))


def parse_template(text: str, *, source: str) -> PromptTemplate:
    """Parse and check a template from YAML text; ``source`` names it in errors."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: the prompt template is not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a prompt template is a mapping with keys {', '.join(TEMPLATE_KEYS)}")
    unknown = [k for k in raw if k not in TEMPLATE_KEYS]
    if unknown:
        raise SpecError(f"{source}: unknown template key '{unknown[0]}' (known: {', '.join(TEMPLATE_KEYS)})")
    for key in ("version", "preamble"):
        if not isinstance(raw.get(key), (str, int, float)) or not str(raw[key]).strip():
            raise SpecError(f"{source}: the template needs a non-empty '{key}'")
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise SpecError(f"{source}: 'attributes' must map attribute names to {{default, levels}}")
    checked: dict[str, dict[str, Any]] = {}
    for name, block in attributes.items():
        if isinstance(block, str):
            block = {"default": block}
        if not isinstance(block, dict):
            raise SpecError(f"{source}: attribute '{name}' needs {{default: ..., levels: {{...}}}}")
        unknown = [k for k in block if k not in ATTRIBUTE_TEMPLATE_KEYS]
        if unknown:
            raise SpecError(f"{source}: attribute '{name}': unknown key '{unknown[0]}' (known: default, levels)")
        levels = block.get("levels") or {}
        if not isinstance(levels, dict):
            raise SpecError(f"{source}: attribute '{name}': 'levels' must map levels to sentences")
        entry: dict[str, Any] = {"levels": {str(k): str(v) for k, v in levels.items()}}
        if block.get("default") is not None:
            entry["default"] = _pattern(str(block["default"]), source, f"attribute '{name}' default")
        checked[str(name)] = entry
    fallback = raw.get("fallback")
    return PromptTemplate(
        version=str(raw["version"]),
        preamble=str(raw["preamble"]).strip(),
        question=str(raw.get("question") or "Question: Could this be a real person? Answer yes or no.\nAnswer:"),
        fallback=None if fallback is None else _pattern(str(fallback), source, "fallback"),
        attributes=checked,
        source=source,
    )


def _pattern(pattern: str, source: str, where: str) -> str:
    """Check a sentence pattern: it must contain ``{level}`` and no other placeholder but ``{attribute}``."""
    if "{level}" not in pattern:
        raise SpecError(f"{source}: {where} '{pattern}' lacks the placeholder {{level}}")
    try:
        pattern.format(attribute="x", level="y")
    except (KeyError, IndexError, ValueError) as exc:
        raise SpecError(
            f"{source}: {where} '{pattern}' has a placeholder other than {{level}} and {{attribute}} ({exc})"
        ) from None
    return pattern
