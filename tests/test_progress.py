"""The shared progress display: counts, descriptions, and silence when disabled."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from modelmedic.progress import progress_tasks


def test_tasks_count_their_steps_and_start_no_thread() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    threads = threading.active_count()
    with progress_tasks(True, console) as task:
        advance = task("MLflow runs", 5)
        advance()
        advance(3)
        assert threading.active_count() == threads  # workers may be forked meanwhile
    assert "MLflow runs" in out.getvalue()
    assert "4/5" in out.getvalue()


def test_disabled_progress_draws_nothing() -> None:
    out = io.StringIO()
    with progress_tasks(False, Console(file=out, force_terminal=True)) as task:
        task("backtesting strategy-windows", 2)(2)
    assert out.getvalue() == ""
