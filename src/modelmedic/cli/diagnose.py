"""Commands of the README's "Diagnose" step: ``drift`` (two files), ``monitor`` (the model
window by window), ``ui`` (the MLflow UI) and ``dashboard`` (modelmedic's own page)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelmedic.cli import render
from modelmedic.cli.app import command
from modelmedic.cli.options import (
    DataOption,
    DriftShareOption,
    EngineOption,
    JsonOption,
    PerColumnOption,
    PerColumnThresholdOption,
    ReferenceEndOption,
    ReferenceStartOption,
    SchemaOption,
    SparkConfOption,
    StattestOption,
    ThresholdOption,
    drift_tests,
    load_data,
    settings_from,
    split_columns,
    start_spark,
)
from modelmedic.errors import ConfigError
from modelmedic.logs import quiet_libraries

if TYPE_CHECKING:
    from modelmedic.config import Settings


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
    # lazy: the drift tests import numpy (scipy, pandas for files read whole)
    from modelmedic.drift import compare, compare_files

    settings = settings_from(ctx)
    engine = engine or settings.drift_engine
    split = split_columns(numerical, categorical)
    tests = {**drift_tests(stattest, threshold, per_column, per_column_threshold), "drift_share": drift_share}
    status = "computing the drift" + (f" of {sum(map(len, split))} columns" if split else "") + f" ({engine} engine)"
    with render.status(f"{status} and rendering the evidently HTML report…" if html is not None else f"{status}…"):
        if engine == "spark":  # Spark reads the sources: Parquet folders, tables, jdbc:...#table
            # lazy: pyspark only for --engine spark
            from modelmedic.drift.spark.sources import read_source

            if html is not None:
                raise ConfigError("--html needs the data on this machine: use it with --engine fast or evidently")
            session = start_spark(settings, spark_conf)
            reference_frame, current_frame = read_source(session, reference), read_source(session, current)
            result = compare(reference_frame, current_frame, *(split or (None, None)), engine=engine, **tests)
            non_finite: dict[str, dict[str, int]] = {"reference": {}, "current": {}}
        else:
            result, non_finite = compare_files(
                reference, current, *(split or (None, None)), engine=engine, html=html, **tests
            )
    if as_json:
        render.print_json({**result.to_dict(), "non_finite": non_finite})
    else:
        render.print_drift(result, non_finite)
    if html is not None:
        render.print_note(f"HTML report: {html}")
    if fail_on_drift and result.drifted:
        raise typer.Exit(3)


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
    # lazy: the monitor imports pandas, scikit-learn and mlflow
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
        # lazy: SQLAlchemy only to read the service's prediction log
        from modelmedic.service.prediction_log import read_prediction_log

        frame, live_windows = monitor.with_live_traffic(
            frame, read_prediction_log(source), dataset,
            reference_start=reference_start, reference_end=reference_end, window=window,
        )  # fmt: skip
        windows = windows or live_windows
    tests = drift_tests(stattest, threshold, per_column, per_column_threshold)
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
        render.print_json(result.to_dict())
        return
    render.print_monitor(result)


def export_workspace(path: Path, result: Any, settings: Settings) -> None:
    """Write a monitoring job's windows into the evidently workspace ``path``, with a progress bar.

    Raises:
        MissingExtraError: without ``modelmedic[monitor]`` (evidently).
        DriftError: when evidently fails on a window.
    """
    # lazy: evidently costs seconds to import
    from modelmedic.monitor.workspace import export_monitor_to_workspace

    with render.progress(sys.stderr.isatty()) as task:
        advance = task("evidently snapshots", len(result.windows))
        export = export_monitor_to_workspace(path, result, settings=settings, advance=advance)
    render.print_workspace(export, path)


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
    # lazy: the tracking module is not needed by --help
    from modelmedic.secrets import masked
    from modelmedic.tracking.server import is_server_uri, mlflow_server, run_process_group

    settings = settings_from(ctx)
    uri = settings.resolved_tracking_uri
    if is_server_uri(uri):
        render.print_line(f"the tracking store is a server already: open {masked(uri)}", highlight=False)
        return
    launch = mlflow_server(settings, host, port)
    render.print_line(f"MLflow UI for {masked(uri)} at [bold]http://{host}:{port}[/] (Ctrl+C stops it)")
    code = run_process_group(launch.command, launch.env)
    if code != 0:
        raise ConfigError(f"the MLflow UI exited with code {code}: is port {port} free? try --port")


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
    try:
        # lazy: the serve extra (uvicorn, FastAPI), optional
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
    render.print_note(f"dashboard of {settings.home} at http://{host}:{port} (Ctrl+C stops it)")
    uvicorn.run(create_dashboard_app(settings), host=host, port=port, access_log=False, log_level="warning")
