"""What the notebooks need from their first cell: quiet imports, clean outputs, live controls.

A notebook runs either *live* (Jupyter, JupyterLab, VS Code, Colab: a person watches, and
widgets work) or *headless* (papermill, `make notebooks`, the tests, CI: nobody watches,
and the saved file is what GitHub shows). `setup` makes the headless run save clean
outputs: no TensorFlow start-up lines, and progress bars as text (nbclient keeps their
last state) rather than widgets (saved without their state, they show as "0%"
placeholders). `explore` gives a figure live controls, or in a headless run the figure
at its default values.

Example (a notebook's setup cell, then a cell with a slider):

    from swapface import notebook
    live = notebook.setup()  # before the other swapface imports
    ...
    notebook.explore(functools.partial(figures.warp_strength_figure, crop), jitter=(0.0, 20.0, 1.0))

Outside a notebook `live()` is False:
    >>> live()
    False
"""

from __future__ import annotations

import os

HEADLESS_ENV = "SWAPFACE_HEADLESS"  # set to 1 to force the headless behaviour (0 forces live)


def live() -> bool:
    """Whether a person is watching: a Jupyter kernel whose current request came from a
    frontend that can answer `input()` (Jupyter, VS Code, Colab do; papermill and nbclient
    do not, nor can they show widgets). `SWAPFACE_HEADLESS=1` (or 0) overrides."""
    forced = os.environ.get(HEADLESS_ENV)
    if forced is not None and forced != "":
        return forced == "0"
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return False
    try:
        return bool(kernel.get_parent().get("content", {}).get("allow_stdin", False))
    except Exception:  # an older or unusual kernel: assume nobody can see widgets
        return False


def setup(keras: bool = True) -> bool:
    """Prepare a notebook session; returns `live()`. Call before importing other swapface modules.

    Imports Keras quietly (`quiet.import_keras`; `keras=False` for a notebook that never
    loads a model) with TensorFlow's Python warnings about retracing (a note on speed,
    printed when several models are loaded in one session) turned off, and, in a headless
    run, makes the package's progress bars plain text (`tqdm.auto` resolves to
    `tqdm.std`), so that the saved notebook shows each bar's final line and not an empty widget.
    """
    import logging

    from swapface import quiet

    if keras:
        quiet.import_keras()
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    watched = live()
    if not watched:
        import tqdm.auto
        import tqdm.std

        tqdm.auto.tqdm = tqdm.std.tqdm  # read by `from tqdm.auto import tqdm` in the modules imported next
    return watched


def explore(function, **controls):
    """`function`'s figure with ipywidgets controls, live; its figure at the defaults, headless.

    `controls` maps keyword arguments of `function` to ipywidgets abbreviations: a list of
    choices (a dropdown), (low, high, step) (a slider), True/False (a checkbox). Each control
    starts at the default of that argument in `function`'s signature, so the static figure
    of a headless run is exactly the live one before anything is touched. Returns an
    `ipywidgets.interactive` (shown as the cell's value) or a `matplotlib.figure.Figure`.
    """
    if not live():
        return function()
    try:
        import ipywidgets
    except ImportError:  # without ipywidgets: the static figure, as headless
        return function()
    import functools
    import inspect

    if isinstance(function, functools.partial):  # ipywidgets names the control panel after the function
        function = functools.partial(function)
        function.__name__ = getattr(function.func, "__name__", "figure")
    # Every other keyword argument stays as it is (interact would give it a widget too).
    fixed = {name: ipywidgets.fixed(param.default) for name, param in inspect.signature(function).parameters.items()
             if name not in controls and param.default is not inspect.Parameter.empty}
    return ipywidgets.interactive(function, {"manual": False, "auto_display": True}, **controls, **fixed)
