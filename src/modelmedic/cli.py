"""The ``modelmedic`` command line: thin Typer commands over the library API.

Heavy libraries are imported inside the commands, so ``--help`` answers at once.
A :class:`~modelmedic.errors.ModelmedicError` is printed as one line and exits non-zero.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

if TYPE_CHECKING:
    from modelmedic.config import Settings

F = TypeVar("F", bound=Callable[..., Any])
out = Console(soft_wrap=True)
err = Console(stderr=True)


def print_error(message: str) -> None:
    """Print a user error as one line on stderr."""
    from rich.markup import escape

    # one line whatever the message quotes (a library's multi-line error text)
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


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
                print_error(f"{exc.format_message()}{hint}")  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            print_error("aborted")
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

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Data: a bike data folder or zip, or your CSV/Parquet file "
        "(with --schema). Default: MODELMEDIC_DATA_DIR, else download from UCI.",
    ),
]
SchemaOption = Annotated[
    Path | None, typer.Option("--schema", help="Dataset description (TOML/YAML) for your own data.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
KindOption = Annotated[str, typer.Option("--kind", help="Model: hgb (gradient boosting) or rf (random forest).")]


def date_value(value: str | None) -> str | None:
    """Check a date option as it is parsed, so its error names the option."""
    if value is None:
        return None
    from modelmedic.errors import ConfigError
    from modelmedic.windows import parse_time

    try:
        parse_time(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


ReferenceStartOption = Annotated[
    str | None,
    typer.Option(
        "--reference-start", callback=date_value, help="First day of the reference period (default: the setting)."
    ),
]
ReferenceEndOption = Annotated[
    str | None,
    typer.Option(
        "--reference-end", callback=date_value, help="Last day of the reference period (default: the setting)."
    ),
]


def command(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Register a command whose user errors print as one line and exit non-zero."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            from modelmedic.errors import ModelmedicError

            try:
                return func(*a, **kw)
            except ModelmedicError as exc:
                print_error(str(exc))
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
    out.print(
        f"[green]✓[/] {summary['rows']:,} rows of {kind}.csv, {summary['start']} to {summary['end']}, "
        f"SHA-256 verified, in {folder}"
    )


@command("train")
def train_command(
    ctx: typer.Context,
    data: DataOption = None,
    schema: SchemaOption = None,
    kind: KindOption = "hgb",
    start: Annotated[
        str | None, typer.Option("--start", callback=date_value, help="First day of the training period.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", callback=date_value, help="Last day of the training period.")
    ] = None,
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
            frame,
            dataset,
            settings=settings,
            kind=kind,
            start=start,
            end=end,
            eval_weeks=eval_weeks,
            register=not no_register,
            source=data_source_label(data, settings),
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
            table.add_row(
                label,
                f"{m[prefix + '/mae']:.1f}",
                f"{m[prefix + '/rmse']:.1f}",
                f"{m[prefix + '/r2']:.3f}",
                f"{m[prefix + '/mape']:.1%}",
            )
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

    Example: `modelmedic ui --port 5000`; a Heroku app's runs and models:
    `DATABASE_URL=$(heroku config:get DATABASE_URL -a APP) modelmedic ui`
    """
    import os

    from modelmedic.errors import ConfigError
    from modelmedic.secrets import masked

    settings = settings_from(ctx)
    uri = settings.resolved_tracking_uri
    if uri.startswith(("http://", "https://")):
        out.print(f"the tracking store is a server already: open {masked(uri)}", highlight=False)
        return
    from modelmedic.extras import require
    from modelmedic.tracking import artifact_location

    require("flask", purpose="the MLflow UI (mlflow with its server)")
    if settings.uses_default_store:
        settings.ensure_home()
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port), "--workers", "1"]
    # the store URI may hold a password: the environment, unlike argv, is not shown by ps;
    # MODELMEDIC_TRACKING_URI lets the server find artifacts kept in the database (modelmedic-db:)
    env = {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": uri,
        "MLFLOW_DEFAULT_ARTIFACT_ROOT": artifact_location("", settings) or settings.artifact_root.as_uri(),
        "MODELMEDIC_TRACKING_URI": uri,
    }
    # MLflow's job runner (GenAI scorers) starts ~8 processes of ~230 MB each; the UI needs none
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    out.print(f"MLflow UI for {masked(uri)} at [bold]http://{host}:{port}[/] (Ctrl+C stops it)", highlight=False)
    code = run_process_group(cmd, env)
    if code != 0:
        raise ConfigError(f"the MLflow UI exited with code {code}: is port {port} free? try --port")


def run_process_group(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` in a process group of its own until it exits, or until this process
    is interrupted (Ctrl+C) or terminated (SIGTERM): then the whole group is stopped, so no
    server process it started outlives it. Returns the command's exit code."""
    import os
    import signal
    import subprocess

    process = subprocess.Popen(command, env=env, start_new_session=True)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
                process.wait(grace)
                return 0
            except ProcessLookupError:
                return 0
            except subprocess.TimeoutExpired:
                continue
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def split_names(value: str | None) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]`` (``None`` -> ``[]``)."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def parse_pairs(values: list[str] | None, option: str, convert: Callable[[str], Any] = str) -> dict[str, Any]:
    """Parse repeated ``COLUMN=VALUE`` options into a dict.

    Raises:
        ConfigError: for an item without ``=`` or a value ``convert`` rejects.
    """
    from modelmedic.errors import ConfigError

    pairs: dict[str, Any] = {}
    for item in values or []:
        column, sep, value = item.partition("=")
        try:
            if not (sep and column.strip() and value.strip()):
                raise ValueError
            pairs[column.strip()] = convert(value.strip())
        except ValueError:
            raise ConfigError(f"{option} expects COLUMN=VALUE, got '{item}'") from None
    return pairs


# options shared by the commands that compute drift
StattestOption = Annotated[
    str | None,
    typer.Option(
        "--stattest",
        help="Test for every column (ks, chisquare, z, wasserstein, jensenshannon, psi, "
        "…). Default: evidently's choice by reference size, type and unique values.",
    ),
]
ThresholdOption = Annotated[
    float | None, typer.Option("--threshold", min=0.0, help="Threshold for every column. Default: the test's own.")
]
PerColumnOption = Annotated[
    list[str] | None, typer.Option("--per-column", help="One column's test, COLUMN=TEST (repeatable).")
]
PerColumnThresholdOption = Annotated[
    list[str] | None, typer.Option("--per-column-threshold", help="One column's threshold, COLUMN=VALUE (repeatable).")
]
DriftShareOption = Annotated[
    float,
    typer.Option("--drift-share", help="Share of drifted columns (among those tested) at which the data set drifts."),
]
EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="Drift engine: fast, evidently or spark. Default: the drift_engine setting."),
]
SparkConfOption = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="A Spark setting for --engine spark, KEY=VALUE (repeatable)."),
]


def start_spark(settings: Settings, spark_conf: list[str] | None) -> Any:
    """Start the Spark session of ``--engine spark`` with the settings' and the command's
    ``--spark-conf`` (the engine then finds it active); return it."""
    from modelmedic.drift.spark.session import parse_spark_conf, spark_session

    return spark_session(settings.spark_master, {**settings.spark_conf, **parse_spark_conf(spark_conf)})


@command("drift")
def drift_command(
    ctx: typer.Context,
    reference: Annotated[Path, typer.Argument(help="Reference data: a CSV or Parquet file.")],
    current: Annotated[Path, typer.Argument(help="Data to compare with it: a CSV or Parquet file.")],
    numerical: Annotated[
        str | None,
        typer.Option(
            "--numerical",
            help="Numerical columns, comma-separated. When --numerical or --categorical is "
            "given, only the named columns are tested; otherwise every column, typed by its dtype.",
        ),
    ] = None,
    categorical: Annotated[
        str | None, typer.Option("--categorical", help="Categorical columns, comma-separated.")
    ] = None,
    stattest: StattestOption = None,
    threshold: ThresholdOption = None,
    per_column: PerColumnOption = None,
    per_column_threshold: PerColumnThresholdOption = None,
    drift_share: DriftShareOption = 0.5,
    engine: EngineOption = None,
    spark_conf: SparkConfOption = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also save evidently's HTML drift report to this file.")
    ] = None,
    as_json: JsonOption = False,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with code 3 when the data set drifts.")
    ] = False,
) -> None:
    """Compare two data files column by column: which columns drifted, and does the data set?

    Example: `modelmedic drift january.csv march.parquet --categorical season,weathersit --fail-on-drift`
    """
    quiet_libraries()
    from modelmedic.data import read_table
    from modelmedic.drift import DriftOptions, get_engine, infer_columns
    from modelmedic.quality import non_finite_counts

    settings = settings_from(ctx)
    engine = engine or settings.drift_engine
    if engine == "spark":  # Spark reads the sources: Parquet folders, tables, jdbc:...#table
        from modelmedic.drift.spark.sources import infer_spark_columns, read_source
        from modelmedic.errors import ConfigError

        if html is not None:
            raise ConfigError("--html needs the data on this machine: use it with --engine fast or evidently")
        session = start_spark(settings, spark_conf)
        reference_frame, current_frame = read_source(session, reference), read_source(session, current)
        infer = infer_spark_columns
    else:
        reference_frame, current_frame = read_table(reference), read_table(current)
        infer = infer_columns
    if numerical is None and categorical is None:
        named = infer(reference_frame)
    else:
        named = (split_names(numerical), split_names(categorical))
    options = DriftOptions(
        numerical=tuple(named[0]),
        categorical=tuple(named[1]),
        stattest=stattest,
        threshold=threshold,
        per_column_stattest=parse_pairs(per_column, "--per-column"),
        per_column_threshold=parse_pairs(per_column_threshold, "--per-column-threshold", float),
        drift_share=drift_share,
    )
    drift_engine = get_engine(engine, options)
    with err.status(f"computing the drift of {len(options.columns)} columns ({drift_engine.name} engine)…"):
        result = drift_engine.fit(reference_frame).calculate(current_frame)
    non_finite = {
        side: {c: n for c, n in non_finite_counts(frame, options.numerical).items() if n}
        for side, frame in (("reference", reference_frame), ("current", current_frame))
    }
    if html is not None:
        from modelmedic.drift.evidently_engine import render_html

        with err.status("rendering the evidently HTML report…"):
            render_html(reference_frame, current_frame, options, html)
    if as_json:
        print_json({**result.to_dict(), "non_finite": non_finite})
    else:
        print_drift(result, non_finite)
    if html is not None:
        err.print(f"HTML report: {html}", highlight=False)
    if fail_on_drift and result.drifted:
        raise typer.Exit(3)


def print_drift(result: Any, non_finite: dict[str, dict[str, int]] | None = None) -> None:
    """Show a drift result as a table of columns and a one-line verdict, after the count of
    non-finite values (``inf``, ``-inf``) the tests left out, per file and column."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"drift: {result.current_rows:,} current rows vs {result.reference_rows:,} "
        f"reference rows ({result.engine} engine)"
    )
    for name in ("column", "type", "test", "score", "threshold", "drifted"):
        table.add_column(name, justify="right" if name in {"score", "threshold"} else "left")
    for c in result.columns.values():
        verdict = (
            "[bold red]yes[/]"
            if c.drifted
            else "no"
            if c.drifted is False
            else f"[yellow]untested:[/] {escape(c.error or '')}"
        )
        score = "–" if c.score is None else f"{c.score:.4g}"
        table.add_row(escape(c.column), c.column_type, c.stattest, score, f"{c.threshold:g}", verdict)
    out.print(table)
    for side, counts in (non_finite or {}).items():
        if counts:
            found = ", ".join(f"{escape(c)} {n:,}" for c, n in counts.items())
            out.print(
                f"[yellow]data quality[/]: the {side} data hold non-finite values (inf, -inf), "
                f"left out of the tests: {found}"
            )
    if result.drifted is None:
        out.print("[yellow]insufficient data[/]: no column could be tested, so there is no verdict")
        return
    label = "[bold red]dataset drift[/]" if result.drifted else "[green]no dataset drift[/]"
    out.print(
        f"{label}: {result.n_drifted} of {len(result.tested)} tested columns drifted "
        f"({result.share:.0%}; the data set drifts from {result.drift_share:.0%})"
    )


@command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (0.0.0.0 for every one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    model_uri: Annotated[
        str | None, typer.Option("--model-uri", help="Model to serve (MODELMEDIC_MODEL_URI); default: the champion.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Prediction log (DATABASE_URL); default: sqlite in the home.")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Check the model and the log, then exit.")] = False,
    prepare: Annotated[
        bool, typer.Option("--prepare", help="Migrate the log and train a champion if none exists, then exit.")
    ] = False,
) -> None:
    """Serve predictions over HTTP, logging every prediction and label (docs at /docs).

    Example: `modelmedic serve --port 8000` then
    `curl -X POST localhost:8000/predict -H 'content-type: application/json' -d '{"season": 1, "yr": 0,
    "mnth": 1, "hr": 8, "holiday": 0, "weekday": 3, "workingday": 1, "weathersit": 1, "temp": 0.24,
    "atemp": 0.29, "hum": 0.81, "windspeed": 0.0}'`
    """
    quiet_libraries()
    from modelmedic.service.lifecycle import check as check_service
    from modelmedic.service.lifecycle import preflight, run_server

    settings = settings_from(ctx)
    updates = {k: v for k, v in {"model_uri": model_uri, "database_url": database_url}.items() if v}
    if updates:
        settings = settings.model_copy(update=updates)
    if check and not prepare:
        with err.status("checking the model and the log…"):
            report = check_service(settings)  # creates nothing: no folder, file or table
        out.print(f"[green]✓[/] {report.line()}", highlight=False)
        return
    with err.status("preparing the prediction log and the model…" if prepare else "checking the model and the log…"):
        report = preflight(settings, train_if_missing=prepare)
        if check:  # the model itself, loaded as a worker loads it (trusted format) and proved
            from modelmedic.service.lifecycle import service_schema
            from modelmedic.service.predictor import load_served_model
            from modelmedic.service.schemas import FEATURE_NAMES

            load_served_model(settings, service_schema(), FEATURE_NAMES)
    if check or prepare:
        out.print(f"[green]✓[/] {report.line()}", highlight=False)
        return
    err.print(f"{report.line()}; listening on http://{host}:{port} (docs at /docs)", highlight=False)
    run_server(settings, host, port, workers)


@command("monitor")
def monitor_command(
    ctx: typer.Context,
    data: DataOption = None,
    schema: SchemaOption = None,
    model_uri: Annotated[
        str | None,
        typer.Option("--model-uri", help="Model to monitor (an MLflow model URI); default: the registry's champion."),
    ] = None,
    window: Annotated[str, typer.Option("--window", help="Window length after the reference: 1D, 1W, 2W, 1M…")] = "1W",
    batches: Annotated[
        Path | None,
        typer.Option("--batches", help="CSV file of explicit windows, one begin,end row each (replaces --window)."),
    ] = None,
    reference_start: ReferenceStartOption = None,
    reference_end: ReferenceEndOption = None,
    engine: EngineOption = None,
    spark_conf: SparkConfOption = None,
    stattest: StattestOption = None,
    threshold: ThresholdOption = None,
    per_column: PerColumnOption = None,
    per_column_threshold: PerColumnThresholdOption = None,
    drift_share: DriftShareOption = 0.5,
    html: Annotated[
        str,
        typer.Option(
            "--html", help="evidently HTML report per window: none, drifted (windows whose data set drifts) or all."
        ),
    ] = "drifted",
    min_rows: Annotated[
        int, typer.Option("--min-rows", min=1, help="Windows with fewer rows are reported as insufficient data.")
    ] = 20,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help='Monitor the service\'s prediction log at this database URL (e.g. "$DATABASE_URL") '
            "against the reference period of --data, instead of the data set's own history.",
        ),
    ] = None,
    evidently_workspace: Annotated[
        Path | None,
        typer.Option(
            "--evidently-workspace",
            help="Also write each window as a snapshot in this evidently workspace "
            "(then: evidently ui --workspace PATH).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Monitor the model window by window: drift, performance, data quality, logged to MLflow.

    Example: `modelmedic monitor --window 1W --html drifted` then `modelmedic ui`
    """
    quiet_libraries()
    from modelmedic import monitor
    from modelmedic.windows import read_batches

    settings = settings_from(ctx)
    if (engine or settings.drift_engine) == "spark":
        start_spark(settings, spark_conf)
    frame, dataset = load_data(settings, data, schema)
    reference_start = reference_start or settings.reference_start
    reference_end = reference_end or settings.reference_end
    windows = read_batches(batches) if batches is not None else None
    if source is not None:
        from modelmedic.service.store import read_prediction_log

        frame, live_windows = monitor.with_live_traffic(
            frame, read_prediction_log(source), dataset,
            reference_start=reference_start, reference_end=reference_end, window=window,
        )  # fmt: skip
        windows = windows or live_windows
    tests = {
        "stattest": stattest,
        "threshold": threshold,
        "per_column_stattest": parse_pairs(per_column, "--per-column"),
        "per_column_threshold": parse_pairs(per_column_threshold, "--per-column-threshold", float),
    }
    result = monitor.run(
        frame,
        dataset,
        settings=settings,
        model_uri=model_uri,
        window=window,
        windows=windows,
        reference_start=reference_start,
        reference_end=reference_end,
        engine=engine,
        drift_share=drift_share,
        html=html,
        min_rows=min_rows,
        progress=sys.stderr.isatty(),
        **tests,
    )
    if evidently_workspace is not None:
        export_workspace(evidently_workspace, result, settings)
    if as_json:
        print_json(result.to_dict())
        return
    print_monitor(result)


def export_workspace(path: Path, result: Any, settings: Settings) -> None:
    """Write a monitoring job's windows into the evidently workspace ``path``, with a progress bar."""
    from modelmedic.monitor.workspace import export_monitor_to_workspace
    from modelmedic.progress import progress_tasks

    with progress_tasks(sys.stderr.isatty(), err) as task:
        advance = task("evidently snapshots", len(result.windows))
        export = export_monitor_to_workspace(path, result, settings=settings, advance=advance)
    err.print(
        f"evidently workspace: {export.snapshots} snapshots in project '{export.project_name}' at {path}; "
        f"see them with: evidently ui --workspace {path}",
        highlight=False,
        soft_wrap=True,  # a path stays whole, to copy
    )


def print_monitor(result: Any) -> None:
    """Show a monitoring result: one row per window, then where to look next."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from modelmedic.secrets import masked

    table = Table(
        title=f"monitor: {len(result.windows)} windows vs reference {result.reference_start}.."
        f"{result.reference_end} ({result.engine} engine)",
        box=box.SIMPLE_HEAD,
    )
    for name, width in {"window": 10, "share": 5, "drifted features": 24, "MAE": 5, "vs ref": 6, "verdict": 15}.items():
        table.add_column(
            name,
            justify="right" if name in {"share", "MAE", "vs ref"} else "left",
            no_wrap=True,
            min_width=width,
            max_width=width if name != "verdict" else None,
            overflow="ellipsis",
        )
    styles = {"ok": "green", "insufficient data": "yellow"}
    for w in result.windows:
        share = "–" if w.drift_share is None else f"{w.drift_share:.0%}"
        names = w.drift.drifted_columns if w.drift else []
        features = f"{len(names)}: {', '.join(names)}" if names else ("0" if w.drift else "–")
        mae, ratio = w.performance.get("mae"), w.performance.get("mae_ratio")
        table.add_row(
            f"{w.window.begin:%Y-%m-%d}",
            share,
            escape(features),
            "–" if mae is None else f"{mae:.1f}",
            "–" if ratio is None else f"{ratio:.2f}x",
            f"[{styles.get(w.verdict, 'bold red')}]{escape(w.verdict)}[/]",
        )
    out.print(table)
    counts = {v: sum(1 for w in result.windows if v in w.verdict) for v in ("drift", "degraded")}
    out.print(
        f"{counts['drift']} windows with dataset drift, {counts['degraded']} degraded; reference error: "
        f"MAE {result.reference_error.get('mae', float('nan')):.1f} on {result.reference_error_source}"
    )
    out.print(f"reports: {result.folder}", highlight=False)
    if result.summary_run_id:
        out.print(
            f"MLflow: experiment {result.experiment_id}, summary run {result.summary_run_id} "
            f"({masked(result.tracking_uri or '')})",
            highlight=False,
        )
    out.print("next: [bold]modelmedic ui[/] and open the summary run's charts (drift/*, drift_share, perf/mae)")


@command("dashboard")
def dashboard_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (0.0.0.0 for every one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8050,
    mlflow_ui: Annotated[
        str | None, typer.Option("--mlflow-ui", help="MLflow UI address for run links (MODELMEDIC_MLFLOW_UI_URL).")
    ] = None,
) -> None:
    """Serve the monitoring dashboard from the local results, without the prediction API.

    Shows the champion's model card, drift and MAE per window, the backtest's strategies
    and links to each window's evidently report and MLflow run.

    Example: `modelmedic monitor && modelmedic backtest && modelmedic dashboard --port 8050`
    """
    from modelmedic.errors import ConfigError

    try:
        import uvicorn

        from modelmedic.dashboard.routes import create_dashboard_app
    except ImportError as exc:
        raise ConfigError(
            f"the dashboard needs the serve extra ({exc.name} is missing): pip install 'modelmedic[serve]'"
        ) from None
    quiet_libraries()
    settings = settings_from(ctx)
    if mlflow_ui:
        settings = settings.model_copy(update={"mlflow_ui_url": mlflow_ui})
    err.print(f"dashboard of {settings.home} at http://{host}:{port} (Ctrl+C stops it)", highlight=False)
    uvicorn.run(create_dashboard_app(settings), host=host, port=port, access_log=False, log_level="warning")


StrategyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Strategy spec, repeatable: never, periodic:4W, drift:0.5, drift:temp,hum, "
        "performance:1.3, cusum:4, estimated:1.5 (label-free), each optionally +expanding, +sliding:8W "
        "or +recency:4W; incremental:mlp, incremental:sgd. Default (backtest): a grid of 22.",
    ),
]
LabelDelayOption = Annotated[
    str, typer.Option("--label-delay", help="How long after an hour its target is known: 0 (default), 12H, 7D…")
]
WindowOption = Annotated[str, typer.Option("--window", help="Window length: 1D, 1W (default), 2W, 1M…")]


@command("backtest")
def backtest_command(
    ctx: typer.Context,
    data: DataOption = None,
    schema: SchemaOption = None,
    strategy: StrategyOption = None,
    window: WindowOption = "1W",
    label_delay: LabelDelayOption = "0",
    retrain_cost: Annotated[
        float | None,
        typer.Option(
            "--retrain-cost",
            min=0.0,
            help="Cost of one retrain in MAE units (extra MAE during one window); "
            "objective = MAE + cost x retrains / windows. Default: 5% of never retraining's MAE.",
        ),
    ] = None,
    kind: KindOption = "hgb",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes running strategies in parallel.")] = 2,
    reference_start: ReferenceStartOption = None,
    reference_end: ReferenceEndOption = None,
    engine: EngineOption = None,
    search: Annotated[
        bool,
        typer.Option(
            "--search",
            help="Search the strategy space (every family x parameter x training window) on a model bank, "
            "with the Pareto front and the hindsight limit, instead of replaying a list.",
        ),
    ] = False,
    max_retrains: Annotated[
        int | None,
        typer.Option("--max-retrains", min=0, help="With --search: recommend the lowest MAE within N retrains."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the history window by window to find the best retraining strategy (no look-ahead).

    Each strategy decides at every window boundary, from the labels known then, whether to
    retrain; the deployed model predicts the next window before its labels exist. Ranks the
    strategies by error + retrain cost, shows the Pareto front, writes backtest.json and
    charts to MODELMEDIC_HOME/reports/backtest/latest and logs everything to MLflow.
    --search trains every (training window, retrain week) model once and searches about 270
    strategies on them, with the best any schedule could have done (the hindsight limit).

    Example: `modelmedic backtest -s never -s periodic:4W -s drift:0.5+sliding:8W --label-delay 7D`
    or `modelmedic backtest --search --max-retrains 12`
    """
    quiet_libraries()
    from modelmedic.backtest import backtest_and_report, config_from_settings, parse_strategies, search_and_report
    from modelmedic.backtest.charts import print_backtest
    from modelmedic.backtest.engine import backtest_windows
    from modelmedic.errors import ConfigError
    from modelmedic.progress import progress_tasks

    settings = settings_from(ctx)
    if search and strategy:
        raise ConfigError("give either --search or strategies with -s, not both")
    if max_retrains is not None and not search:
        raise ConfigError("--max-retrains needs --search")
    strategies = parse_strategies(strategy)
    frame, dataset = load_data(settings, data, schema)
    config = config_from_settings(
        settings,
        window=window,
        label_delay=label_delay,
        kind=kind,
        workers=workers,
        reference_start=reference_start,
        reference_end=reference_end,
        drift_engine=engine,
    )
    with progress_tasks(err.is_terminal, err) as task:
        if search:
            outcome = search_and_report(
                frame, dataset, config, settings, retrain_cost=retrain_cost, max_retrains=max_retrains, tasks=task
            )
        else:
            advance = task("backtesting strategy-windows", len(strategies) * len(backtest_windows(frame, config)))
            outcome = backtest_and_report(
                frame, dataset, strategy, config, settings, retrain_cost=retrain_cost, progress=advance
            )
    if as_json:
        print_json(outcome.document)
        return
    print_backtest(outcome, out)


@command("retrain")
def retrain_command(
    ctx: typer.Context,
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", help="The strategy to apply, e.g. periodic:4W+recency:4W (see backtest).")
    ],
    data: DataOption = None,
    schema: SchemaOption = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            callback=date_value,
            help="Simulate 'now': use only the data up to this day (inclusive). Default: all.",
        ),
    ] = None,
    window: WindowOption = "1W",
    label_delay: LabelDelayOption = "0",
    min_improvement: Annotated[
        float,
        typer.Option(
            "--min-improvement",
            min=0.0,
            help="Promote the challenger only if its MAE is lower by this fraction (0.02: 2%).",
        ),
    ] = 0.02,
    eval_windows: Annotated[
        int,
        typer.Option(
            "--eval-windows",
            min=1,
            help="Recent labelled windows the champion and challenger are compared on "
            "(held out from the challenger's training).",
        ),
    ] = 1,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Challenger model: hgb or rf. Default: the champion's kind.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Train a challenger even if no trigger fired.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would happen; change nothing (no registry change, no MLflow run)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Decide whether retraining is due, train a challenger and promote it if it beats the champion.

    The strategy's trigger decides (and says why); the challenger is trained on the strategy's
    training set and compared with the champion on the latest labelled window(s); the registry
    alias 'champion' moves only if the challenger is better by --min-improvement. Every
    decision is logged as an MLflow run.

    Example: `modelmedic retrain -s performance:1.2+sliding:8W --until 2011-06-30 --dry-run`
    """
    quiet_libraries()
    from modelmedic.retraining.decision import retrain

    settings = settings_from(ctx)
    frame, dataset = load_data(settings, data, schema)
    with err.status(f"applying {strategy}…"):
        decision = retrain(
            frame,
            dataset,
            strategy,
            settings=settings,
            until=until,
            window=window,
            label_delay=label_delay,
            min_improvement=min_improvement,
            eval_windows=eval_windows,
            kind=kind,
            force=force,
            dry_run=dry_run,
        )
    if as_json:
        print_json(decision.to_dict())
        return
    out.print(decision.summary(), highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()
