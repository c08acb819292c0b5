"""Whether to draw progress bars: only on a terminal.

A progress bar redraws itself with carriage returns and escape codes; in a log file or a
pipe those pile up as control characters, and bars of parallel chains interleave. So bars
are drawn only when stderr is a terminal; elsewhere long work reports plain lines (its
start and its end).
"""

from __future__ import annotations

import sys
from typing import TextIO


def bars(progress: bool, stream: TextIO | None = None) -> bool:
    """True when progress is wanted and ``stream`` (default stderr) is a terminal.

    Examples
    --------
    >>> import io
    >>> bars(True, io.StringIO()), bars(False, io.StringIO())
    (False, False)
    """
    stream = sys.stderr if stream is None else stream
    if not progress:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
