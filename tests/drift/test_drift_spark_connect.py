"""The ``spark`` drift engine on Spark Connect gives the ``fast`` engine's numbers.

One Spark Connect server (pyspark's own, ``local[2]``, on a free loopback port) serves the
module, started as a cluster runs it: its own JVM, in its own process group (stopped with
the module). The tests reach it as users do, through ``SPARK_REMOTE`` and
:func:`~modelmedic.drift.spark.session.spark_session` (or the CLI), and compare every
window with the ``fast`` engine, as ``test_drift_spark.py`` does on a classic session.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import stop_group
from drift_cases import assert_same_results
from modelmedic.drift import DriftOptions, get_engine
from modelmedic.drift.spark import session as spark_settings
from modelmedic.drift.spark.engine import SparkEngine
from modelmedic.drift.spark.queries import window_index
from modelmedic.errors import ConfigError
from modelmedic.windows import select_period, windows_after
from servers import free_port, wait_until

pytestmark = pytest.mark.spark
runner = CliRunner()
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SERVER_CONF = {
    "spark.connect.grpc.binding.address": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
}
WEEKS = 8  # bike windows compared (each one a window of the same Spark jobs)


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory):
    """``sc://127.0.0.1:PORT`` of a Spark Connect server started from the pyspark package."""
    import pyspark

    port = free_port()
    spark_home = Path(pyspark.__file__).parent
    command = [str(spark_home / "bin" / "spark-submit"), "--master", "local[2]", "--class", SERVER_CLASS]
    for key, value in {**SERVER_CONF, "spark.connect.grpc.binding.port": str(port)}.items():
        command += ["--conf", f"{key}={value}"]
    command.append("spark-internal")  # no application jar: the server is Spark's own class
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARK_")}
    env.update({"SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"})
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    with open(log, "wb") as out:
        # a group of its own: stopping it stops the JVM that spark-submit starts
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def started() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"the Spark Connect server exited with {server.returncode}: {log.read_text()[-3000:]}")
        return "Spark Connect server started at" in log.read_text(errors="replace")

    try:
        wait_until(started, 240, "the Spark Connect server to start", interval=0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop_group(server)


@pytest.fixture(scope="module")
def spark(connect_url: str):
    """The project's session with ``SPARK_REMOTE`` set: a Spark Connect client."""
    connect_mode = "SPARK_CONNECT_MODE_ENABLED" in os.environ
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_REMOTE", connect_url)
        session = spark_settings.spark_session("local[1]", {"spark.sql.shuffle.partitions": "3"})
        try:
            yield session
        finally:
            session.stop()
            if not connect_mode:  # pyspark marks the process as a Connect client until it ends
                os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def test_the_session_is_a_spark_connect_client(spark) -> None:
    assert type(spark).__module__ == "pyspark.sql.connect.session"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"  # the settings reach the server


@pytest.fixture(scope="module")
def bike_case(bike, bike_schema, spark):
    reference = select_period(bike, "2011-01-01", "2011-01-28")
    windows = windows_after(bike.loc[:"2011-04-30"], "2011-01-28", "1W")[:WEEKS]
    plain = bike.loc[:"2011-04-30"].rename_axis("datetime").reset_index()
    plain[list(bike_schema.categorical)] = plain[list(bike_schema.categorical)].astype(object)
    return reference, windows, spark.createDataFrame(plain)


@pytest.mark.parametrize("tests", ["default", "forced"])
def test_bike_windows_on_spark_connect_match_the_fast_engine(bike, bike_schema, bike_case, spark, tests) -> None:
    reference, windows, data = bike_case
    numerical = (*bike_schema.numerical, bike_schema.target)
    forced = ["ks", "wasserstein", "jensenshannon", "psi", "kl_div", "hellinger"]
    per_column = {c: forced[i % len(forced)] for i, c in enumerate(numerical)} if tests == "forced" else {}
    options = DriftOptions(numerical=numerical, categorical=bike_schema.categorical, per_column_stattest=per_column)
    fast = get_engine("fast", options).fit(reference)
    engine = SparkEngine(options, session=spark).fit(reference)
    results = engine.calculate_windows(data, window_index("datetime", windows))
    assert sorted(results) == [w.index for w in windows] and len(windows) == WEEKS
    for window in windows:
        expected = fast.calculate(window.slice(bike))
        assert_same_results(results[window.index], expected)
        assert results[window.index].current_rows == expected.current_rows


def test_a_spark_reference_and_pandas_frames_on_spark_connect(bike, bike_schema, bike_case, spark) -> None:
    reference, windows, _ = bike_case
    options = DriftOptions(numerical=(*bike_schema.numerical, bike_schema.target), categorical=bike_schema.categorical)
    fast = get_engine("fast", options).fit(reference)
    engine = SparkEngine(options, session=spark)
    engine.fit(engine.to_spark(reference, "reference"))
    frames = [w.slice(bike) for w in windows[:3]]
    for frame, result in zip(frames, engine.calculate_frames(frames), strict=True):
        assert_same_results(result, fast.calculate(frame))


def test_cli_drift_reaches_spark_connect_through_spark_remote(bike, spark, connect_url, tmp_path, monkeypatch) -> None:
    from modelmedic.cli import app

    reference, current = bike.loc[:"2011-01-28"], bike.loc["2011-03-01":"2011-03-31"]
    folder, columns = tmp_path / "current", ["temp", "hum", "cnt", "season"]
    part = current.reset_index(drop=True).assign(day=current.index.strftime("%Y-%m-%d"))
    part[[*columns, "day"]].astype({"season": object}).to_parquet(folder, partition_cols=["day"], index=False)
    reference[columns].astype({"season": object}).to_parquet(tmp_path / "reference.parquet", index=False)
    current[columns].astype({"season": object}).to_parquet(tmp_path / "current.parquet", index=False)
    args = ["drift", str(tmp_path / "reference.parquet"), "--numerical", "temp,hum,cnt", "--categorical", "season"]
    monkeypatch.setenv("SPARK_REMOTE", connect_url)
    got = runner.invoke(app, [*args[:2], str(folder), *args[2:], "--json", "--engine", "spark"])
    assert got.exit_code == 0, got.output
    expected = runner.invoke(app, [*args[:2], str(tmp_path / "current.parquet"), *args[2:], "--json"])
    assert expected.exit_code == 0, expected.output
    spark_json, fast_json = json.loads(got.stdout), json.loads(expected.stdout)
    assert spark_json["dataset"] == fast_json["dataset"]
    for column, found in spark_json["columns"].items():
        assert found["score"] == pytest.approx(fast_json["columns"][column]["score"], rel=1e-9, abs=1e-12)
        assert found["drifted"] == fast_json["columns"][column]["drifted"]


def test_a_server_that_is_not_there_fails_in_seconds(monkeypatch) -> None:
    monkeypatch.setenv("SPARK_REMOTE", f"sc://127.0.0.1:{free_port()}")
    monkeypatch.setattr(spark_settings, "CONNECT_TIMEOUT", 2.0)
    with pytest.raises(ConfigError, match=r"no Spark Connect server answers at sc://127\.0\.0\.1:\d+ \(waited 2 s\)"):
        spark_settings.spark_session()
    monkeypatch.setenv("SPARK_REMOTE", "127.0.0.1:15002")
    with pytest.raises(ConfigError, match=r"cannot start Spark \(127\.0\.0\.1:15002\): .*sc://"):
        spark_settings.spark_session()
