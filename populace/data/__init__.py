"""Reading and checking inputs, and the real data sets that ship with populace.

Public: :func:`load_inputs` (a spec's files, checked, as arrays over the cell grid),
:func:`example_spec_path` and :func:`example_truth` (the embedded CPS 1988 example).
"""

from populace.data.examples import example_spec_path, example_truth
from populace.data.inputs import Inputs, load_inputs

__all__ = ["Inputs", "example_spec_path", "example_truth", "load_inputs"]
