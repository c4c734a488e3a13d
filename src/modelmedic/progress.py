"""Progress bars for the jobs a user waits for (rich, imported when a bar is shown).

One helper for every command, so they look and behave alike::

    with progress_tasks(sys.stderr.isatty()) as task:
        advance = task("MLflow runs", len(windows))
        for window in windows:
            ...
            advance()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@contextmanager
def progress_tasks(
    enabled: bool, console: Console | None = None
) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A transient progress display (on stderr unless ``console`` says otherwise); yields
    ``task(description, total) -> advance(steps=1)``.

    The display refreshes on each advance only, with no refresh thread, so worker processes
    may be forked while it is shown. With ``enabled`` false nothing is drawn.
    """
    # lazy: rich only when printing
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
        transient=True,
        auto_refresh=False,
    )

    def task(description: str, total: int) -> Callable[[int], None]:
        task_id = bar.add_task(description, total=total)
        bar.refresh()

        def advance(steps: int = 1) -> None:
            bar.advance(task_id, steps)
            bar.refresh()

        return advance

    with bar:
        yield task
