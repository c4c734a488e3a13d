"""The ``modelmedic`` command line: thin Typer commands over the library API.

One module per step of the README: :mod:`~modelmedic.cli.train` (``data``, ``train``),
:mod:`~modelmedic.cli.diagnose` (``drift``, ``monitor``, ``ui``, ``dashboard``),
:mod:`~modelmedic.cli.fix` (``backtest``, ``retrain``), :mod:`~modelmedic.cli.serve`
(``serve``) and :mod:`~modelmedic.cli.demo` (``demo``, the whole story). Each command
parses its options (:mod:`~modelmedic.cli.options`), calls the library and hands the
result to :mod:`~modelmedic.cli.render`, where every printer lives. The Typer app, its
global options and the one-line errors are in :mod:`~modelmedic.cli.app`.

Heavy libraries are imported inside the commands (each import marked ``# lazy:``), so
``--help`` answers at once.
"""

# importing a module registers its commands: --help lists them in the order of the README's steps
# isort: off
from modelmedic.cli import train, demo, diagnose, fix, serve  # noqa: F401

# isort: on
from modelmedic.cli.app import app, main

__all__ = ["app", "main"]
