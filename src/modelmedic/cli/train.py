"""Commands of the README's "Train" step: ``data`` (get and verify the data set) and
``train`` (train, log and register the champion)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from modelmedic.cli import render
from modelmedic.cli.app import command
from modelmedic.cli.options import (
    DataOption,
    JsonOption,
    KindOption,
    SchemaOption,
    date_value,
    load_data,
    settings_from,
)
from modelmedic.logs import quiet_libraries


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
    # lazy: the data module imports pandas
    from modelmedic.data import describe_bike, ensure_bike_data

    settings = settings_from(ctx)
    folder = ensure_bike_data(data, settings, progress=sys.stderr.isatty())
    summary = describe_bike(kind, folder, settings)
    if as_json:
        render.print_json(summary)
        return
    render.print_data(summary)


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
    # lazy: training imports pandas, scikit-learn and mlflow
    from modelmedic.training import data_source_label, train_and_register

    settings = settings_from(ctx)
    frame, dataset = load_data(settings, data, schema)
    with render.status(f"training {kind} and logging to MLflow…"):
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
        render.print_json(result.to_dict())
        return
    render.print_training(result)
