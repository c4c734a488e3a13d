"""The command of the README's "Serve" step: ``serve`` (the prediction API that logs every
prediction and label; ``--check`` and ``--prepare`` for deploys)."""

from __future__ import annotations

from typing import Annotated

import typer

from modelmedic.cli import render
from modelmedic.cli.app import command
from modelmedic.cli.options import settings_from
from modelmedic.logs import quiet_libraries


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
    # lazy: the service imports FastAPI, SQLAlchemy, pandas and mlflow
    from modelmedic.service.lifecycle import check as check_service
    from modelmedic.service.lifecycle import preflight, run_server

    settings = settings_from(ctx)
    updates = {k: v for k, v in {"model_uri": model_uri, "database_url": database_url}.items() if v}
    if updates:
        settings = settings.model_copy(update=updates)
    if check and not prepare:
        with render.status("checking the model and the log…"):
            report = check_service(settings)  # creates nothing: no folder, file or table
        render.print_done(report.line())
        return
    with render.status("preparing the prediction log and the model…" if prepare else "checking the model and the log…"):
        report = preflight(settings, train_if_missing=prepare)
        if check:  # the model itself, loaded as a worker loads it (trusted format) and proved
            # lazy: loading the model imports scikit-learn and skops
            from modelmedic.service.predictor import load_served_model
            from modelmedic.service.schemas import FEATURE_NAMES, service_schema

            load_served_model(settings, service_schema(), FEATURE_NAMES)
    if check or prepare:
        render.print_done(report.line())
        return
    render.print_note(f"{report.line()}; listening on http://{host}:{port} (docs at /docs)")
    run_server(settings, host, port, workers)
