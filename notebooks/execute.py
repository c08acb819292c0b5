"""Execute the notebooks and store them with their outputs (``make notebooks``).

Each notebook runs top to bottom in a fresh kernel on this interpreter (a kernelspec
written for the run, so a ``python3`` kernel installed elsewhere cannot be picked up),
in a temporary working folder, and is written back in place, atomically, only when every
cell ran: a reader sees the plots and tables without running anything, and what they see
is what the code in the repository produced. ``tests/test_notebooks.py`` runs them again
and checks that the stored copies were executed.

Usage::

    python notebooks/execute.py                    # every notebook in this folder
    python notebooks/execute.py getting_started.ipynb
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
KERNEL_NAME = "populace-notebooks"
# Per-cell limit; the election notebook's longest cell takes a few minutes on 2 cores.
CELL_TIMEOUT_S = 1200


def kernel_manager(kernel_dir: pathlib.Path):  # noqa: ANN201 - jupyter_client.KernelManager
    """A kernel manager whose only kernelspec runs ipykernel on this interpreter."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = kernel_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "populace",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def execute(nb, scratch: pathlib.Path, timeout: int = CELL_TIMEOUT_S):  # noqa: ANN001, ANN201 - nbformat nodes
    """Run ``nb`` in place in a fresh kernel, with ``scratch`` as its working folder and kernelspec home.

    Raises nbclient's ``CellExecutionError`` (the cell and its traceback) when a cell fails.
    """
    from nbclient import NotebookClient

    work = scratch / "cwd"
    work.mkdir()
    client = NotebookClient(
        nb, km=kernel_manager(scratch / "kernels"), timeout=timeout, resources={"metadata": {"path": str(work)}}
    )
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    """Execute the named notebooks (default: all) and write each back with its outputs."""
    import nbformat

    names = (sys.argv[1:] if argv is None else argv) or sorted(p.name for p in HERE.glob("*.ipynb"))
    for name in names:
        path = HERE / name
        print(f"executing {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory(prefix="populace-notebook-") as tmp:
            execute(nb, pathlib.Path(tmp))
        # the kernel's own metadata (its name here) is not the notebook's
        nb.metadata.pop("widgets", None)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        part = path.with_suffix(".ipynb.part")
        nbformat.write(nb, part)
        os.replace(part, path)
        print(f"wrote {path.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
