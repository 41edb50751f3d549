"""Console hygiene shared by the stages."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def quiet_output():
    """Silence Blender's own prints (render stats, "Saved: ...") so progress bars stay readable."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
