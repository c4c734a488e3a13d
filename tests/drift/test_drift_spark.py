"""The ``spark`` drift engine gives the ``fast`` engine's numbers: same test, score, verdict.

One local Spark session (``local[2]``) serves the module. Random data sets (hypothesis),
every weekly window of the bike data (in one Spark job), a monitoring job and a window of
millions of rows that the driver is not allowed to receive are compared with the ``fast``
engine, which ``tests/drift/test_drift_fast.py`` proves equal to evidently.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

import spark_checks
from drift_cases import assert_same_results, drift_cases
from modelmedic.drift import DriftOptions, get_engine
from modelmedic.drift.spark.engine import SparkEngine
from modelmedic.errors import ConfigError, DataError

pytestmark = pytest.mark.spark
runner = CliRunner()
# small enough that collecting a window's rows fails, large enough for every summary
MAX_RESULT = "1m"
# the PostgreSQL JDBC driver of Debian's libpostgresql-jdbc-java (on the session's class path when installed)
POSTGRESQL_JDBC = Path("/usr/share/java/postgresql.jar")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("modelmedic-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.maxResultSize", MAX_RESULT)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if POSTGRESQL_JDBC.exists():
        builder = builder.config("spark.jars", str(POSTGRESQL_JDBC))
    session = builder.getOrCreate()
    yield session
    session.stop()


def both(options: DriftOptions, reference: pd.DataFrame, spark) -> tuple:
    return get_engine("fast", options).fit(reference), SparkEngine(options, session=spark).fit(reference)


# -- random data sets ---------------------------------------------------------------------


SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=20, deadline=None, suppress_health_check=SLOW_OK)
@given(case=drift_cases())
def test_random_columns_match_the_fast_engine(spark, case: tuple) -> None:
    reference, current, options = case
    fast, engine = both(options, reference, spark)
    assert_same_results(engine.calculate(current), fast.calculate(current))


def test_large_references_and_forced_tests_match(spark) -> None:
    rng = np.random.default_rng(7)

    def frame(size: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ties": np.round(rng.normal(shift, 1, size), 2),
                "wide": rng.integers(0, 60, size) + int(shift * 5),
                "few": rng.integers(0, 4, size).astype(float),
                "cat": rng.choice(["a", "b", "c", "d"], size),
            }
        )

    reference = frame(120_000, 0.0)
    windows = [frame(n, s) for n, s in ((30_000, 0.0), (5_000, 0.2), (800, 1.0))]
    forced = [
        {},
        {"ties": "ks", "wide": "psi", "few": "hellinger"},
        {"ties": "wasserstein", "wide": "kl_div", "few": "jensenshannon"},
        {"ties": "hellinger", "wide": "jensenshannon", "few": "psi"},
        {"ties": "psi", "wide": "hellinger", "few": "kl_div"},
    ]
    for per_column in forced:
        options = DriftOptions(numerical=("ties", "wide", "few"), categorical=("cat",), per_column_stattest=per_column)
        fast, engine = both(options, reference, spark)
        for window, result in zip(windows, engine.calculate_frames(windows), strict=True):
            assert_same_results(result, fast.calculate(window))


# -- the real bike data, every window in one job --------------------------------------------


@pytest.fixture(scope="module")
def bike_case(bike, bike_schema, spark):
    return spark_checks.bike_case(bike, bike_schema, spark)


@pytest.mark.parametrize("tests", ["default", "forced"])
def test_every_bike_window_matches_the_fast_engine(spark, bike, bike_schema, bike_case, tests) -> None:
    spark_checks.assert_bike_windows_match(spark, bike, bike_schema, bike_case, tests)


def test_a_spark_reference_gives_the_same_results(spark, bike, bike_schema, bike_case) -> None:
    reference, windows, _ = bike_case
    options = DriftOptions(numerical=(*bike_schema.numerical, bike_schema.target), categorical=bike_schema.categorical)
    engine = SparkEngine(options, session=spark)
    engine.fit(engine.to_spark(reference, "reference"))
    current = windows[10].slice(bike)
    assert_same_results(engine.calculate(current), get_engine("fast", options).fit(reference).calculate(current))


def test_monitor_with_the_spark_engine_gives_the_fast_table(spark, settings, bike, bike_schema) -> None:
    spark_checks.assert_monitor_tables_match(settings, bike, bike_schema)


def test_quality_and_error_are_measured_in_spark_as_in_pandas(spark) -> None:
    spark_checks.assert_quality_and_error_match_pandas(spark)


# -- the driver receives summaries, never rows ----------------------------------------------


def test_a_window_of_millions_of_rows_never_reaches_the_driver(spark) -> None:
    from pyspark.sql import functions as F

    rows, columns = 4_000_000, {"x": 1_000_003, "k": 97}

    def values(ids, modulus: int, scale: float):
        return (ids * 7919 % modulus) / scale

    data = spark.range(rows).select(
        (F.col("id") % 2).alias("window"),
        values(F.col("id"), columns["x"], 1000.0).alias("x"),
        values(F.col("id"), columns["k"], 1.0).cast("long").alias("k"),
    )
    with pytest.raises(Exception, match=r"maxResultSize|bigger than"):
        data.select("x").collect()  # the limit bites: a window's values cannot reach the driver

    ids = np.arange(rows, dtype=np.int64)
    frame = pd.DataFrame({"window": ids % 2, "x": values(ids, columns["x"], 1000.0), "k": values(ids, columns["k"], 1)})
    frame["k"] = frame["k"].astype(np.int64)
    reference = frame.iloc[::400].reset_index(drop=True)  # 10,000 rows
    for per_column in ({}, {"x": "ks", "k": "hellinger"}):
        options = DriftOptions(numerical=("x", "k"), per_column_stattest=per_column)
        fast, engine = both(options, reference, spark)
        results = engine.calculate_windows(data, "window")
        for w in (0, 1):
            assert results[w].current_rows == rows // 2
            assert_same_results(results[w], fast.calculate(frame[frame["window"] == w]))


# -- sources, options, errors ---------------------------------------------------------------


def test_cli_drift_reads_parquet_folders_with_the_spark_engine(spark, bike, tmp_path) -> None:
    spark_checks.assert_cli_drift_on_a_parquet_folder_matches(
        tmp_path, bike, ["--spark-conf", "spark.sql.shuffle.partitions=3"]
    )


def _same_drift_as_fast(spark, table, reference: pd.DataFrame, current: pd.DataFrame) -> None:
    options = DriftOptions(numerical=("temp", "hum", "cnt"), categorical=("season",))
    fast, engine = both(options, reference, spark)
    found = engine.calculate(table)
    assert found.current_rows == len(current)
    assert_same_results(found, fast.calculate(current))


def test_a_table_name_is_a_source(spark, bike) -> None:
    from modelmedic.drift.spark.sources import infer_spark_columns, read_source

    columns = ["temp", "hum", "cnt", "season"]
    reference, current = bike.loc[:"2011-01-28", columns], bike.loc["2011-03-01":"2011-03-31", columns]
    current = current.astype({"season": int})
    spark.createDataFrame(current.reset_index(drop=True)).createOrReplaceTempView("predictions")
    table = read_source(spark, "predictions")
    assert infer_spark_columns(table) == (["temp", "hum", "cnt", "season"], [])
    _same_drift_as_fast(spark, table, reference.astype({"season": int}), current)
    with pytest.raises(DataError, match="Spark cannot read no_such_table"):
        read_source(spark, "no_such_table")


def test_a_postgresql_table_is_a_source_through_jdbc(spark, bike) -> None:
    from sqlalchemy import create_engine

    from databases import fresh_database
    from modelmedic.drift.spark.sources import read_source

    if not POSTGRESQL_JDBC.exists():
        pytest.skip("the PostgreSQL JDBC driver is not installed (Debian: libpostgresql-jdbc-java)")
    columns = ["temp", "hum", "cnt", "season"]
    reference = bike.loc[:"2011-01-28", columns].astype({"season": int})
    current = bike.loc["2011-03-01":"2011-03-31", columns].astype({"season": int})
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_database("modelmedic_spark"))
        except LookupError as exc:
            pytest.skip(str(exc))
        store = create_engine(url.replace("postgres://", "postgresql+psycopg://", 1))
        current.reset_index(drop=True).to_sql("predictions", store, index=False)
        store.dispose()
        role, place = url.removeprefix("postgres://").split("@", 1)
        table = read_source(spark, f"jdbc:postgresql://{place}?user={role}#predictions")
        _same_drift_as_fast(spark, table, reference, current)


def test_bad_requests_fail_clearly(spark) -> None:
    with pytest.raises(ConfigError, match="does not implement the 'anderson' test"):
        SparkEngine(DriftOptions(numerical=("x",), stattest="anderson"), session=spark)
    options = DriftOptions(numerical=("x",), stattest="psi", min_rows=1)
    reference = pd.DataFrame({"x": np.arange(10.0)})
    engine = SparkEngine(options, session=spark, gather_limit=5).fit(reference)
    found = engine.calculate(pd.DataFrame({"x": np.arange(0.0, 5.0, 0.5)})).columns["x"]
    assert found.score is None and "more than 5 distinct values" in found.error
    assert engine.calculate(pd.DataFrame({"x": np.arange(0.0, 5.0, 1.0)})).columns["x"].ok
    with pytest.raises(ConfigError, match="not key=value"):
        from modelmedic.drift.spark.session import parse_spark_conf

        parse_spark_conf(["spark.executor.memory"])


def test_without_pyspark_the_engine_names_the_extra(tmp_path) -> None:
    frame = pd.DataFrame({"x": np.arange(30.0)})
    frame.to_csv(tmp_path / "a.csv", index=False)
    path = str(tmp_path / "a.csv")
    code = (
        "import sys\n"
        "sys.modules['pyspark'] = None\n"  # as if the extra were not installed
        "from modelmedic.cli import main\n"
        f"sys.argv = ['modelmedic', 'drift', {path!r}, {path!r}, '--engine', 'spark']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "'spark' extra" in lines[0], result.stderr
