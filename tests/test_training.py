"""Training tracked in MLflow: a real sqlite store and a real `mlflow server` on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from conftest import stop_group
from modelmedic import tracking
from modelmedic.config import Settings
from modelmedic.training import train_and_register


def test_training_run_is_logged_and_registered(trained, settings: Settings) -> None:
    client = tracking.client(settings)
    run = client.get_run(trained.run_id)
    assert run.data.params["reference_start"] == "2011-01-01"
    assert run.data.params["estimator"] == "RandomForestRegressor"
    for key in ("train/mae", "eval/mae", "eval/rmse", "eval/r2", "eval/mape", "baseline/mae"):
        assert key in run.data.metrics
    assert run.data.metrics["eval/mae"] < run.data.metrics["baseline/mae"]
    assert run.data.tags["modelmedic.reference_digest"]
    assert run.inputs.dataset_inputs, "training data lineage is logged"
    assert run.inputs.dataset_inputs[0].dataset.name == "bike-hour:2011-01-01..2011-01-28"
    uri, version = tracking.champion(settings)
    assert version == trained.version == "1"
    model = tracking.load_model(uri, settings)
    assert model.predict(_features(trained)).shape == (5,)


def _features(trained):
    import pandas as pd

    from modelmedic.schema import builtin_schema

    schema = builtin_schema()
    return pd.DataFrame(
        [
            {
                **dict.fromkeys(schema.features, 1),
                "temp": 0.3,
                "atemp": 0.3,
                "hum": 0.5,
                "windspeed": 0.1,
                "hr": h,
                "weekday": 3,
                "mnth": 1,
            }
            for h in range(5)
        ]
    )


def test_rerun_creates_new_run_and_version(trained, settings: Settings, bike, bike_schema) -> None:
    second = train_and_register(bike, bike_schema, settings=settings, kind="rf", eval_weeks=1)
    assert second.run_id != trained.run_id
    assert second.version == "2"
    assert tracking.champion(settings)[1] == "2"


def test_no_champion_is_a_clear_error(settings: Settings) -> None:
    from modelmedic.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="modelmedic train"):
        tracking.champion(settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    admin_url = os.environ.get("MODELMEDIC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"modelmedic_test_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {admin_url} is not reachable: {exc}")
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@pytest.fixture
def mlflow_server(postgres_database: str, tmp_path: Path) -> Iterator[str]:
    """A real `mlflow server` on 127.0.0.1 backed by PostgreSQL."""
    port = _free_port()
    log_path = tmp_path / "mlflow-server.log"
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", postgres_database,
               "--artifacts-destination", str(tmp_path / "server-artifacts"),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_group(proc)
            pytest.fail(f"mlflow server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)
    yield url
    stop_group(proc)


@pytest.mark.slow
@pytest.mark.postgres
def test_training_against_mlflow_server_on_postgres(mlflow_server: str, settings: Settings, bike, bike_schema) -> None:
    shared = settings.model_copy(update={"tracking_uri": mlflow_server})
    result = train_and_register(bike, bike_schema, settings=shared, kind="rf", eval_weeks=1)
    again = train_and_register(bike, bike_schema, settings=shared, kind="rf", eval_weeks=1)
    assert (result.version, again.version) == ("1", "2")
    client = tracking.client(shared)
    assert client.get_run(result.run_id).data.metrics["eval/mae"] > 0
    uri, version = tracking.champion(shared)
    assert version == "2"
    assert tracking.load_model(uri, shared).predict(_features(result)).shape == (5,)


def test_configure_does_not_leak_the_uri_into_later_settings(settings: Settings, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure(settings)
    assert Settings().tracking_uri is None


def test_the_default_store_writes_ahead_and_a_named_store_is_left_alone(settings: Settings, tmp_path) -> None:
    import sqlite3

    tracking.experiment_id("wal", settings)
    with closing(sqlite3.connect(settings.home / "mlflow.db")) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT count(*) FROM experiments WHERE name = 'wal'").fetchone()[0] == 1

    named = tmp_path / "named.db"
    tracking.experiment_id("named", Settings(home=tmp_path / "other", tracking_uri=f"sqlite:///{named}"))
    with closing(sqlite3.connect(named)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/bike-demand@champion", tracking.RegistryRef("bike-demand", None, "champion")),
        ("models:/bike-demand/3", tracking.RegistryRef("bike-demand", "3", None)),
        ("models:/bike-demand/latest", tracking.RegistryRef("bike-demand", None, None)),
        ("models:/bike-demand", tracking.RegistryRef("bike-demand", None, None)),
        ("runs:/abc/model", None),
        ("/tmp/model", None),
        ("memory", None),
    ],
)
def test_registry_uris_are_parsed_in_one_place(uri: str, expected) -> None:
    assert tracking.registry_ref(uri) == expected
