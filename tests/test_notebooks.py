"""Every notebook in notebooks/ is stored executed, and still runs: a cell that raises fails the suite.

``make notebooks`` (``notebooks/execute.py``) executes them and stores their outputs; here
each is executed again in memory, in a temporary working directory, by a kernel that runs
this interpreter (a kernelspec written for the test, so a ``python3`` kernel installed
elsewhere on the machine cannot be picked up).
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Per-cell limit; the getting-started notebook takes well under a minute on 2 cores.
CELL_TIMEOUT_S = 600


def _executor():  # noqa: ANN202 - the notebooks/execute.py module
    spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "notebooks" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, f"no notebooks in {ROOT / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_executed(path: pathlib.Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert all(isinstance(n, int) for n in counts), f"{path.name}: run make notebooks (cells not executed)"
    assert counts == sorted(counts), f"{path.name}: cells were run out of order; run make notebooks"
    errors = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.outputs)]
    assert not errors, f"{path.name}: stored with errors in code cells {errors}"


@pytest.mark.pipeline
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    # Last cell: report which interpreter and which populace the kernel ran.
    nb.cells.append(nbformat.v4.new_code_cell("import sys, populace\nprint(sys.executable)\nprint(populace.__file__)"))
    _executor().execute(nb, tmp_path, CELL_TIMEOUT_S)  # raises CellExecutionError, with the cell, on any error

    import populace

    executable, module = nb.cells[-1].outputs[0]["text"].splitlines()
    assert pathlib.Path(executable).resolve() == pathlib.Path(sys.executable).resolve()
    assert pathlib.Path(module).resolve() == pathlib.Path(populace.__file__).resolve()
