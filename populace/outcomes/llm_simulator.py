"""An outcome simulator that asks a local causal language model to answer as each persona.

For a persona the prompt is the template's preamble, one sentence per attribute (the same
templates as the plausibility filter, :mod:`populace.llm_filter.template`), then the
question; the probability of each outcome level is the model's likelihood of that level's
answer text after the prompt, normalised over the levels:

``P(level | persona) = P(answer_level | prompt) / sum_k P(answer_k | prompt)``.

Whole multi-token answers are scored (``" Donald Trump"``), not only their first token.
Use it with :func:`populace.outcomes.simulator.simulate_forecast`, which calls it on the
distinct attribute combinations only. No hub: the model loads from disk
(:mod:`populace.language_models`, shared with the plausibility filter).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from populace.errors import DataError
from populace.language_models import CausalLM, LoadedModel
from populace.llm_filter.template import PromptTemplate, load_template


class LanguageModelSimulator:
    """Outcome probabilities from a causal LM's likelihood of each answer.

    Parameters
    ----------
    model
        A :class:`~populace.language_models.LoadedModel`, a :class:`~populace.language_models.CausalLM` or a model name
        (``smollm2``, ``gemma3-270m``, a GGUF file or a transformers folder).
    question
        Text after the persona's description, such as ``"Question: Who did this person
        vote for in 2016? Answer:"``.
    answers
        Outcome level -> answer text (``{"trump": "Donald Trump"}``), in level order.
    template
        Sentences for the attributes (default: the built-in template).

    Examples
    --------
    >>> sim = LanguageModelSimulator("smollm2", "Question: Who did this person vote for? Answer:",
    ...                              {"trump": "Donald Trump", "clinton": "Hillary Clinton"})  # doctest: +SKIP
    >>> sim(pd.DataFrame({"age": ["65+"], "sex": ["male"]}))  # doctest: +SKIP
    array([[0.61, 0.39]])
    """

    def __init__(
        self,
        model: LoadedModel | CausalLM | str,
        question: str,
        answers: Mapping[str, str],
        template: PromptTemplate | None = None,
    ) -> None:
        if len(answers) < 2:
            raise DataError("an LLM simulator needs at least two outcome levels with answer texts")
        empty = [level for level, text in answers.items() if not str(text).strip()]
        if empty:
            raise DataError(f"outcome level '{empty[0]}' has an empty answer text")
        self.levels = tuple(answers)
        self.answers = {k: str(v).strip() for k, v in answers.items()}
        self.question = question.strip()
        self.lm = model if isinstance(model, CausalLM) else CausalLM(model)
        self.template = template or load_template()

    @property
    def cache_id(self) -> str:
        """Model, template, question and answers: what the simulated probabilities depend on."""
        return f"{self.lm.identity}|{self.template.key}|{self.question}|{sorted(self.answers.items())}"

    def __call__(self, personas: pd.DataFrame) -> np.ndarray:
        """Probabilities, shape ``(len(personas), len(levels))``, rows summing to 1."""
        template = self.template
        names = [c for c in personas.columns if c not in ("persona_id", "draw")]
        prompts = [
            f"{template.description({n: str(row[n]) for n in names})} {self.question}"
            for _, row in personas[names].iterrows()
        ]
        base = self.lm.loglik(prompts, template.preamble)
        logp = np.stack(
            [
                self.lm.loglik([f"{p} {self.answers[k]}" for p in prompts], template.preamble) - base
                for k in self.levels
            ],
            1,
        )
        logp -= logp.max(axis=1, keepdims=True)
        prob = np.exp(logp)
        return prob / prob.sum(axis=1, keepdims=True)
