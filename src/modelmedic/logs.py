"""Logging and warnings of the libraries modelmedic drives, quiet on a terminal.

A low-level module (standard library only): the command line, the web server's
configuration and the benchmarks all call :func:`quiet_libraries` before they work.
"""

from __future__ import annotations

import logging
import warnings


def quiet_libraries() -> None:
    """Silence library chatter (MLflow's info logs and hints) on the terminal."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*Inferred schema contains integer.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
