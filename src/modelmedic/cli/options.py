"""Options shared by several commands, and how they become the library's inputs
(settings, a loaded data set, ``COLUMN=VALUE`` pairs, a Spark session)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelmedic.cli import render
from modelmedic.errors import ConfigError
from modelmedic.windows import parse_time

if TYPE_CHECKING:
    from modelmedic.config import Settings
    from modelmedic.schema import DatasetSchema

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
    """Check a date option as it is parsed, so its error names the option.

    Raises:
        typer.BadParameter: for a value that is not a date.
    """
    if value is None:
        return None
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


def settings_from(ctx: typer.Context) -> Settings:
    """The settings for this invocation (environment, then global options).

    Raises:
        pydantic.ValidationError: for a setting of the environment that is not valid.
    """
    # lazy: pydantic-settings is not needed by --help
    from modelmedic.config import Settings

    if ctx.obj is None:
        ctx.obj = {}
    settings = ctx.obj.get("settings")
    if settings is None:
        settings = Settings(**ctx.obj.get("overrides", {}))
        ctx.obj["settings"] = settings
    return settings


def load_data(settings: Settings, data: Path | None, schema_path: Path | None) -> tuple[Any, DatasetSchema]:
    """Load the data set named by ``--data``/``--schema`` (the bike data by default).

    Raises:
        DataError: when the data cannot be found, downloaded, verified or read.
        ConfigError: for a bad dataset description.
    """
    # lazy: the data module imports pandas
    from modelmedic.data import load_dataset
    from modelmedic.schema import load_schema

    schema = load_schema(schema_path) if schema_path else None
    with render.status("loading data…"):
        return load_dataset(data, schema, settings, progress=sys.stderr.isatty())


def split_names(value: str | None) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]`` (``None`` -> ``[]``)."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def parse_pairs(values: list[str] | None, option: str, convert: Callable[[str], Any] = str) -> dict[str, Any]:
    """Parse repeated ``COLUMN=VALUE`` options into a dict.

    Raises:
        ConfigError: for an item without ``=`` or a value ``convert`` rejects.
    """
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


def split_columns(numerical: str | None, categorical: str | None) -> tuple[list[str], list[str]] | None:
    """The columns named by ``--numerical``/``--categorical``; ``None`` when neither is given
    (the drift library then types every column)."""
    if numerical is None and categorical is None:
        return None
    return split_names(numerical), split_names(categorical)


def drift_tests(
    stattest: str | None,
    threshold: float | None,
    per_column: list[str] | None,
    per_column_threshold: list[str] | None,
) -> dict[str, Any]:
    """The drift-test options as the library's keyword arguments.

    Raises:
        ConfigError: for a ``--per-column`` or ``--per-column-threshold`` item that is not ``COLUMN=VALUE``.
    """
    return {
        "stattest": stattest,
        "threshold": threshold,
        "per_column_stattest": parse_pairs(per_column, "--per-column"),
        "per_column_threshold": parse_pairs(per_column_threshold, "--per-column-threshold", float),
    }


def start_spark(settings: Settings, spark_conf: list[str] | None) -> Any:
    """Start the Spark session of ``--engine spark`` with the settings' and the command's
    ``--spark-conf`` (the engine then finds it active); return it.

    Raises:
        ConfigError: without pyspark, or for a ``--spark-conf`` item that is not ``KEY=VALUE``.
    """
    # lazy: pyspark (and a JVM) only for --engine spark
    from modelmedic.drift.spark.session import parse_spark_conf, spark_session

    return spark_session(settings.spark_master, {**settings.spark_conf, **parse_spark_conf(spark_conf)})
