"""The ``spark`` drift engine on Spark Connect gives the ``fast`` engine's numbers.

One Spark Connect server (pyspark's own, ``local[2]``, on a free loopback port) serves the
module, started as a cluster runs it: its own JVM, in its own process group (stopped with
the module). The tests reach it as users do, through ``SPARK_REMOTE`` and
:func:`~modelmedic.drift.spark.session.spark_session` (or the CLI), and compare every
window with the ``fast`` engine, as ``test_drift_spark.py`` does on a classic session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import spark_checks
from conftest import stop_group
from drift_cases import assert_same_results
from modelmedic.drift import DriftOptions, get_engine
from modelmedic.drift.spark import session as spark_sessions
from modelmedic.drift.spark.engine import SparkEngine
from modelmedic.errors import ConfigError
from servers import free_port, wait_until

pytestmark = pytest.mark.spark
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SERVER_CONF = {
    "spark.connect.grpc.binding.address": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
}
LAST_DAY = "2011-03-25"  # eight weekly bike windows after the reference (January 2011)


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
        session = spark_sessions.spark_session("local[1]", {"spark.sql.shuffle.partitions": "3"})
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
    return spark_checks.bike_case(bike, bike_schema, spark, end=LAST_DAY)


@pytest.mark.parametrize("tests", ["default", "forced"])
def test_bike_windows_on_spark_connect_match_the_fast_engine(spark, bike, bike_schema, bike_case, tests) -> None:
    assert len(bike_case[1]) == 8
    spark_checks.assert_bike_windows_match(spark, bike, bike_schema, bike_case, tests)


def test_a_spark_reference_and_pandas_frames_on_spark_connect(spark, bike, bike_schema, bike_case) -> None:
    reference, windows, _ = bike_case
    options = DriftOptions(numerical=(*bike_schema.numerical, bike_schema.target), categorical=bike_schema.categorical)
    fast = get_engine("fast", options).fit(reference)
    engine = SparkEngine(options, session=spark)
    engine.fit(engine.to_spark(reference, "reference"))
    frames = [w.slice(bike) for w in windows[:3]]
    for frame, result in zip(frames, engine.calculate_frames(frames), strict=True):
        assert_same_results(result, fast.calculate(frame))


def test_monitor_on_spark_connect_gives_the_fast_table(spark, connect_url, settings, bike, bike_schema) -> None:
    assert os.environ["SPARK_REMOTE"] == connect_url  # the engine's session: spark_session() from the settings
    spark_checks.assert_monitor_tables_match(settings, bike, bike_schema)


def test_quality_and_error_on_spark_connect_match_pandas(spark) -> None:
    spark_checks.assert_quality_and_error_match_pandas(spark)


def test_cli_drift_reaches_spark_connect_through_spark_remote(spark, connect_url, bike, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPARK_REMOTE", connect_url)
    spark_checks.assert_cli_drift_on_a_parquet_folder_matches(tmp_path, bike, [])


def test_a_server_that_is_not_there_or_no_client_fails_in_one_line(monkeypatch) -> None:
    monkeypatch.setenv("SPARK_REMOTE", f"sc://127.0.0.1:{free_port()}")
    monkeypatch.setattr(spark_sessions, "CONNECT_TIMEOUT", 2.0)
    with pytest.raises(ConfigError, match=r"no Spark Connect server answers at sc://127\.0\.0\.1:\d+ \(waited 2 s\)"):
        spark_sessions.spark_session()
    monkeypatch.setitem(sys.modules, "grpc", None)  # as if the Connect client were not installed
    with pytest.raises(ConfigError, match=r"SPARK_REMOTE needs the Spark Connect client .*'modelmedic\[spark\]'"):
        spark_sessions.spark_session()
    monkeypatch.undo()
    monkeypatch.setenv("SPARK_REMOTE", "127.0.0.1:15002")
    with pytest.raises(ConfigError, match=r"cannot start Spark \(127\.0\.0\.1:15002\): .*sc://"):
        spark_sessions.spark_session()
