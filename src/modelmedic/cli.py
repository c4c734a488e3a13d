"""The ``modelmedic`` command line: thin Typer commands over the library API.

Heavy libraries are imported inside the commands, so ``--help`` answers at once.
A :class:`~modelmedic.errors.ModelmedicError` is printed as one line and exits non-zero.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from modelmedic.config import Settings

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="modelmedic",
    help="Diagnose and fix a machine-learning model in production: train, monitor drift and "
    "performance, backtest retraining strategies, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
out = Console(soft_wrap=True)
err = Console(stderr=True)

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data: a bike data folder or zip, or your CSV/Parquet file "
                 "(with --schema). Default: MODELMEDIC_DATA_DIR, else download from UCI."),
]
SchemaOption = Annotated[
    Path | None, typer.Option("--schema", help="Dataset description (TOML/YAML) for your own data.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def command(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Register a command whose user errors print as one line and exit non-zero."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            from modelmedic.errors import ModelmedicError

            try:
                return func(*a, **kw)
            except ModelmedicError as exc:
                err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                err.print("interrupted")
                raise typer.Exit(130) from None

        app.command(*args, **kwargs)(wrapper)
        return func

    return decorate


def settings_from(ctx: typer.Context) -> Settings:
    """The settings for this invocation (environment, then global options)."""
    from modelmedic.config import Settings

    if ctx.obj is None:
        ctx.obj = {}
    settings = ctx.obj.get("settings")
    if settings is None:
        settings = Settings(**ctx.obj.get("overrides", {}))
        ctx.obj["settings"] = settings
    return settings


def quiet_libraries() -> None:
    """Silence library chatter (MLflow's info logs and hints) on the terminal."""
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*Inferred schema contains integer.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def load_data(settings: Settings, data: Path | None, schema_path: Path | None) -> tuple[Any, Any]:
    """Load the data set named by ``--data``/``--schema`` (the bike data by default)."""
    from modelmedic.data import load_dataset
    from modelmedic.schema import load_schema

    schema = load_schema(schema_path) if schema_path else None
    with err.status("loading data…"):
        return load_dataset(data, schema, settings, progress=sys.stderr.isatty())


def print_json(payload: Any) -> None:
    """Write ``payload`` as JSON to stdout (NaN becomes null)."""
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    sys.stdout.write(json.dumps(clean(payload), indent=2, default=str) + "\n")


def _print_version(value: bool) -> None:
    if value:
        from modelmedic import __version__

        out.print(f"modelmedic {__version__}")
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


@command("data")
def data_command(
    ctx: typer.Context,
    data: DataOption = None,
    kind: Annotated[str, typer.Option("--kind", help="hour or day.")] = "hour",
    as_json: JsonOption = False,
) -> None:
    """Download (once), verify and describe the UCI Bike Sharing data set.

    Example: `modelmedic data --data ./Bike-Sharing-Dataset.zip`
    """
    from modelmedic.data import ensure_bike_data, load_bike

    settings = settings_from(ctx)
    folder = ensure_bike_data(data, settings, progress=sys.stderr.isatty())
    frame = load_bike(kind, folder, settings, progress=False)
    summary = {
        "folder": str(folder),
        "file": f"{kind}.csv",
        "rows": len(frame),
        "start": f"{frame.index.min():%Y-%m-%d %H:%M}",
        "end": f"{frame.index.max():%Y-%m-%d %H:%M}",
        "columns": list(frame.columns),
        "verified": "sha256",
    }
    if as_json:
        print_json(summary)
        return
    out.print(f"[green]✓[/] {summary['rows']:,} rows of {kind}.csv, {summary['start']} to {summary['end']}, "
              f"SHA-256 verified, in {folder}")


@command("train")
def train_command(
    ctx: typer.Context,
    data: DataOption = None,
    schema: SchemaOption = None,
    kind: Annotated[str, typer.Option("--kind", help="Model: hgb (gradient boosting) or rf (random forest).")] = "hgb",
    start: Annotated[str | None, typer.Option("--start", help="First day of the training period.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last day of the training period.")] = None,
    eval_weeks: Annotated[int, typer.Option("--eval-weeks", min=0, help="Weeks after training to evaluate on.")] = 4,
    no_register: Annotated[bool, typer.Option("--no-register", help="Do not register the model.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Train the demand model on the reference period, log it to MLflow and make it champion.

    Example: `modelmedic train --kind rf --start 2011-01-01 --end 2011-01-28`
    """
    quiet_libraries()
    from modelmedic.training import data_source_label, train_and_register

    settings = settings_from(ctx)
    frame, dataset = load_data(settings, data, schema)
    with err.status(f"training {kind} and logging to MLflow…"):
        result = train_and_register(
            frame, dataset, settings=settings, kind=kind, start=start, end=end, eval_weeks=eval_weeks,
            register=not no_register, source=data_source_label(data, settings),
        )
    if as_json:
        print_json(result.to_dict())
        return
    print_training(result)


def print_training(result: Any) -> None:
    """Show a training result as a short table."""
    from rich.table import Table

    m = result.metrics
    table = Table(title="training", show_header=True)
    for col in ("set", "MAE", "RMSE", "R²", "MAPE"):
        table.add_column(col, justify="right" if col != "set" else "left")
    rows = (("train", "training period"), ("eval", "next weeks"), ("baseline", "hour-of-day mean, next weeks"))
    for prefix, label in rows:
        if f"{prefix}/mae" in m:
            table.add_row(label, f"{m[prefix + '/mae']:.1f}", f"{m[prefix + '/rmse']:.1f}", f"{m[prefix + '/r2']:.3f}",
                          f"{m[prefix + '/mape']:.1%}")
    out.print(table)
    version = f"version {result.version} (alias champion)" if result.version else "not registered"
    out.print(f"[green]✓[/] model {result.params['estimator']}: run {result.run_id}, {version}")


@command("ui")
def ui_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port of the MLflow UI.")] = 5000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Start the MLflow UI on the configured store and print its address.

    Example: `modelmedic ui --port 5000`
    """
    import subprocess

    from modelmedic.errors import ConfigError

    settings = settings_from(ctx)
    uri = settings.resolved_tracking_uri
    if uri.startswith(("http://", "https://")):
        out.print(f"the tracking store is a server already: open {uri}")
        return
    if not settings.tracking_uri:
        settings.ensure_home()
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", host,
           "--port", str(port), "--default-artifact-root", settings.artifact_root.as_uri()]
    out.print(f"MLflow UI for {uri} at [bold]http://{host}:{port}[/] (Ctrl+C stops it)")
    try:
        code = subprocess.call(cmd)
    except KeyboardInterrupt:
        code = 0
    if code not in (0, -2):
        raise ConfigError(f"the MLflow UI exited with code {code}: is port {port} free? try --port")


@command("demo")
def demo_command(
    ctx: typer.Context,
    data: DataOption = None,
) -> None:
    """Run the whole story on the bike data: data, training, diagnosis, retraining advice.

    Example: `MODELMEDIC_DATA_DIR=./bike-sharing modelmedic demo`
    """
    quiet_libraries()
    from modelmedic.demo import run_demo

    run_demo(settings_from(ctx), data, out, err)


def main() -> None:
    """Console-script entry point."""
    app()
