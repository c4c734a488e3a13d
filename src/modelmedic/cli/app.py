"""The Typer app: its global options, the registration of commands, and the one-line errors.

A :class:`~modelmedic.errors.ModelmedicError` raised by a command prints as one line on
stderr and exits with the error's code; Click's usage errors (a bad option value, an
unknown option, a missing argument) print as one line too and exit 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from modelmedic import __version__
from modelmedic.cli import render
from modelmedic.errors import ModelmedicError

F = TypeVar("F", bound=Callable[..., Any])


class OneLineErrors(TyperGroup):
    """The command group, printing Click's usage errors (a bad option value, an unknown
    option, a missing argument) in one line, as every other user error."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode exit with its code."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except typer.TyperException as exc:  # Click's exceptions, which Typer vendors
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # type: ignore[attr-defined]
            else:
                context = getattr(exc, "ctx", None)
                hint = f" (see: {context.command_path} --help)" if context is not None else ""
                render.print_error(f"{exc.format_message()}{hint}")  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            render.print_error("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    name="modelmedic",
    help="Diagnose and fix a machine-learning model in production: train, monitor drift and "
    "performance, backtest retraining strategies, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def command(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Register a command whose user errors print as one line and exit non-zero."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return func(*a, **kw)
            except ModelmedicError as exc:
                render.print_error(str(exc))
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                render.print_interrupted()
                raise typer.Exit(130) from None

        app.command(*args, **kwargs)(wrapper)
        return func

    return decorate


def _print_version(value: bool) -> None:
    if value:
        render.print_version(__version__)
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", help="Working folder (MODELMEDIC_HOME).")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (MLFLOW_TRACKING_URI).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """Diagnose and fix a machine-learning model in production."""
    overrides: dict[str, Any] = {}
    if home is not None:
        overrides["home"] = home
    if tracking_uri is not None:
        overrides["tracking_uri"] = tracking_uri
    ctx.obj = {"overrides": overrides}


def main() -> None:
    """Console-script entry point."""
    app()
