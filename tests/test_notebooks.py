"""Execute every notebook in notebooks/: a cell that raises fails the suite.

Notebooks are stored without outputs and executed in memory, in a temporary working
directory, by a kernel that runs this interpreter (a kernelspec written for the test,
so a ``python3`` kernel installed elsewhere on the machine cannot be picked up).
"""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Per-cell limit; the getting-started notebook takes well under a minute on 2 cores.
CELL_TIMEOUT_S = 600
KERNEL_NAME = "populace-test"


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, f"no notebooks in {ROOT / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path: pathlib.Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not with_outputs, f"{path.name}: strip the outputs of cells {with_outputs}"


def _kernel_manager(kernel_dir: pathlib.Path):  # noqa: ANN202 - jupyter_client.KernelManager
    """A kernel manager whose only kernelspec runs ipykernel on this interpreter."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = kernel_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "populace test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


@pytest.mark.pipeline
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # Last cell: report which interpreter and which populace the kernel ran.
    nb.cells.append(nbformat.v4.new_code_cell("import sys, populace\nprint(sys.executable)\nprint(populace.__file__)"))
    work = tmp_path / "cwd"
    work.mkdir()
    client = NotebookClient(
        nb,
        km=_kernel_manager(tmp_path / "kernels"),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error

    import populace

    executable, module = nb.cells[-1].outputs[0]["text"].splitlines()
    assert pathlib.Path(executable).resolve() == pathlib.Path(sys.executable).resolve()
    assert pathlib.Path(module).resolve() == pathlib.Path(populace.__file__).resolve()
