"""Keras and TensorFlow without their C++ start-up lines.

Loading TensorFlow writes a few lines from C++ straight to the process's standard error
(file descriptor 2): "oneDNN custom operations are on ...", "This TensorFlow binary is
optimized to use available CPU instructions ...", and at the first training step a
harmless graph-optimiser note, "remapper failed". None is the user's error; in a notebook
they land in the saved outputs (ipykernel forwards descriptor 2), on the command line they
bury the one line that matters.

`TF_CPP_MIN_LOG_LEVEL=3` silences what TensorFlow logs once its logging is initialised
(the remapper note). The lines written before that ("All log messages before
absl::InitializeLog() is called are written to STDERR") ignore it, so `import_keras` runs
the first import with descriptor 2 pointed at the null device, then restores it. Nothing
is disabled: oneDNN stays on, Python warnings and exceptions are untouched (a failed import
still raises), and an explicit `TF_CPP_MIN_LOG_LEVEL` in the environment is kept.

Example:
    >>> from swapface import quiet
    >>> quiet.import_keras().__name__  # then `from swapface import model` etc. import silently
    'keras'
"""

from __future__ import annotations

import contextlib
import os
import sys

LOG_LEVEL = "3"  # TensorFlow's C++ log: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR (FATAL only)


@contextlib.contextmanager
def silenced_fd2():
    """Point file descriptor 2 (C and C++ code's stderr) at the null device for the block.

    Python's own `sys.stderr` is flushed first; in a Jupyter kernel it is a separate stream
    and keeps working. Where descriptor 2 cannot be duplicated, nothing is redirected.
    """
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_keras():
    """Import Keras and its backend with TensorFlow's start-up lines silenced; returns `keras`.

    Call it before anything imports Keras (a later call returns the module already loaded).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", LOG_LEVEL)
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with silenced_fd2():
        import keras
        if keras.backend.backend() == "tensorflow":
            import tensorflow  # noqa: F401 (already loaded by Keras: its lines were written above)
    return keras
