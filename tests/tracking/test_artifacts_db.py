"""MLflow's tracking store and model files in the app's PostgreSQL (the ``modelmedic-db:`` plugin).

Everything runs against real stores: MLflow's SQL store on a fresh PostgreSQL database
(Heroku's ``postgres://`` form) or a sqlite file, and a real ``mlflow server`` started by
``modelmedic ui``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from databases import fresh_database
from modelmedic import tracking
from modelmedic.config import Settings
from modelmedic.service.lifecycle import preflight
from modelmedic.tracking.artifacts_db import CHUNK_BYTES, SCHEME, artifact_key, experiment_location
from servers import free_port, wait_until


@pytest.fixture
def heroku_db() -> Iterator[str]:
    """A fresh, empty PostgreSQL database as Heroku names it (``postgres://``)."""
    try:
        with fresh_database("modelmedic_store") as url:
            yield url
    except LookupError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def app_settings(settings: Settings, heroku_db: str) -> Settings:
    """The settings of a Heroku dyno: only ``DATABASE_URL`` names a store."""
    return settings.model_copy(update={"database_url": heroku_db})


@pytest.fixture
def sqlite_repo(tmp_path: Path) -> Iterator[tuple[MlflowClient, str]]:
    """A client on a sqlite MLflow store and an experiment whose artifacts live in that file."""
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("artifacts", artifact_location=experiment_location("artifacts"))
    yield client, experiment


def test_artifact_uris_name_a_place_in_the_table_not_a_host_or_folder() -> None:
    assert experiment_location("bike demand/v2") == f"{SCHEME}:/bike%20demand%2Fv2"
    assert artifact_key("modelmedic-db:/bike-demand/abc/artifacts/") == "bike-demand/abc/artifacts"
    assert artifact_key("modelmedic-db:///x/../../y") == "y"
    with pytest.raises(MlflowException):
        artifact_key("s3://bucket/x")


def test_settings_pick_the_heroku_database_for_mlflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELMEDIC_HOME", str(tmp_path))
    for var in ("MLFLOW_TRACKING_URI", "MODELMEDIC_TRACKING_URI", "MODELMEDIC_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/app")
    assert Settings().resolved_tracking_uri == "postgresql+psycopg://u:p@db.example:5432/app"
    assert not Settings().uses_default_store

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example")
    assert Settings().resolved_tracking_uri == "http://mlflow.example"

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'log.db'}")
    assert Settings().resolved_tracking_uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    assert Settings().uses_default_store


def test_files_and_folders_round_trip_in_chunks(sqlite_repo: tuple[MlflowClient, str], tmp_path: Path) -> None:
    client, experiment = sqlite_repo
    run = client.create_run(experiment)
    source = tmp_path / "source"
    (source / "model" / "sub").mkdir(parents=True)
    big = os.urandom(2 * CHUNK_BYTES + 123)
    (source / "model" / "weights.bin").write_bytes(big)
    (source / "model" / "sub" / "MLmodel").write_text("flavors: {}\n")
    (source / "model" / "empty.txt").write_bytes(b"")
    client.log_artifacts(run.info.run_id, str(source / "model"), "model")
    (tmp_path / "notes.txt").write_text("first")
    client.log_artifact(run.info.run_id, str(tmp_path / "notes.txt"))
    (tmp_path / "notes.txt").write_text("second, longer")
    client.log_artifact(run.info.run_id, str(tmp_path / "notes.txt"))  # replaces the first

    top = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run.info.run_id)}
    inside = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run.info.run_id, "model")}
    target = tmp_path / "back"
    target.mkdir()
    folder = Path(client.download_artifacts(run.info.run_id, "model", str(target)))

    assert run.info.artifact_uri.startswith(f"{SCHEME}:/artifacts/")
    assert top == {("model", True, None), ("notes.txt", False, len("second, longer"))}
    assert inside == {
        ("model/empty.txt", False, 0),
        ("model/sub", True, None),
        ("model/weights.bin", False, len(big)),
    }
    assert client.list_artifacts(run.info.run_id, "model/weights.bin") == []
    assert (folder / "weights.bin").read_bytes() == big
    assert (folder / "sub" / "MLmodel").read_text() == "flavors: {}\n"
    assert (folder / "empty.txt").read_bytes() == b""
    with pytest.raises(MlflowException, match=r"missing\.bin"):
        client.download_artifacts(run.info.run_id, "model/missing.bin", str(target))


def test_reads_create_nothing(tmp_path: Path) -> None:
    import sqlite3

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("empty", artifact_location=experiment_location("empty")))

    assert client.list_artifacts(run.info.run_id) == []
    with sqlite3.connect(tmp_path / "store.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "modelmedic_artifacts" not in tables


@pytest.mark.slow
@pytest.mark.postgres
def test_a_champion_trained_on_one_machine_loads_on_another(
    app_settings: Settings, bike, bike_schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine, text

    from modelmedic.model import feature_frame
    from modelmedic.training import train_and_register

    report = preflight(app_settings, train_if_missing=True)  # the release phase
    trained_home = app_settings.home
    # a dyno: another folder, an empty disk, the same DATABASE_URL
    dyno = app_settings.model_copy(update={"home": tmp_path / "dyno-home"})
    uri, version = tracking.champion(dyno)
    model = tracking.load_model(uri, dyno)
    again = train_and_register(bike, bike_schema, settings=dyno, kind="rf", eval_weeks=1, source="test")

    engine = create_engine(app_settings.resolved_tracking_uri)
    with engine.connect() as conn:
        locations = [
            *conn.execute(text("SELECT artifact_location FROM experiments")).scalars(),
            *conn.execute(text("SELECT artifact_uri FROM runs")).scalars(),
            *conn.execute(text("SELECT storage_location FROM model_versions")).scalars(),
        ]
        stored = conn.execute(text("SELECT count(DISTINCT path) FROM modelmedic_artifacts")).scalar_one()
    engine.dispose()

    assert report.trained and (version, again.version) == ("1", "2")
    assert model.predict(feature_frame(bike.head(3), bike_schema)).shape == (3,)
    assert all(location.startswith(f"{SCHEME}:/") for location in locations), locations
    assert not [loc for loc in locations if "postgres" in loc or str(tmp_path) in loc]
    assert stored >= 8  # two models (MLmodel, model.skops, ...) and the reference profiles
    assert not trained_home.exists() and not dyno.home.exists()  # nothing on any disk


@pytest.mark.slow
@pytest.mark.postgres
def test_dynos_starting_together_on_a_migrated_store_agree(app_settings: Settings, trained_release: None) -> None:
    code = (
        "from modelmedic import tracking\n"
        "from modelmedic.config import Settings\n"
        "uri, version = tracking.champion(Settings())\n"
        "print(version, tracking.load_model(uri).__class__.__name__)\n"
    )
    env = {**os.environ, "DATABASE_URL": app_settings.database_url, "MODELMEDIC_HOME": "unused-home"}
    for var in ("MLFLOW_TRACKING_URI", "MODELMEDIC_TRACKING_URI", "MODELMEDIC_DATABASE_URL"):
        env.pop(var, None)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = [process.communicate(timeout=300) for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0], [err[-2000:] for _out, err in results]
    assert {out.strip() for out, _err in results} == {"1 Pipeline"}


@pytest.fixture
def trained_release(app_settings: Settings, bike, bike_schema) -> None:
    """The release phase's work on the app's database: migrations and a champion RF."""
    from modelmedic.training import train_and_register

    tracking.prepare_store(app_settings)
    train_and_register(bike, bike_schema, settings=app_settings, kind="rf", eval_weeks=1, source="test")


@pytest.mark.slow
@pytest.mark.postgres
def test_the_mlflow_ui_shows_runs_and_files_kept_in_the_database(
    app_settings: Settings, trained_release: None, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MODELMEDIC_TRACKING_URI")}
    env.update({"DATABASE_URL": str(app_settings.database_url), "MODELMEDIC_HOME": str(tmp_path / "laptop")})
    log = tmp_path / "ui.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelmedic", "ui", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the UI and its server workers stop together
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"modelmedic ui exited: {log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{base}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 180, "the MLflow UI")
        api = f"{base}/ajax-api/2.0/mlflow"
        with httpx.Client(timeout=120) as http:  # the first calls of a fresh server are slow here
            experiment = http.get(f"{api}/experiments/get-by-name", params={"experiment_name": "bike-demand"}).json()
            runs = http.post(f"{api}/runs/search", json={"experiment_ids": [experiment["experiment"]["experiment_id"]]})
            run_id = runs.json()["runs"][0]["info"]["run_id"]
            listing = http.get(f"{api}/artifacts/list", params={"run_id": run_id}).json()
            profile = http.get(
                f"{base}/get-artifact", params={"run_id": run_id, "path": "reference_profile/profile.npz"}
            )
            mlmodel = http.get(
                f"{base}/model-versions/get-artifact", params={"name": "bike-demand", "version": "1", "path": "MLmodel"}
            )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)

    assert "reference_profile" in {f["path"] for f in listing["files"]}
    assert profile.status_code == 200 and profile.content[:2] == b"PK"  # a .npz is a zip
    assert mlmodel.status_code == 200 and "sklearn" in mlmodel.text and "skops" in mlmodel.text
    assert (tmp_path / "laptop").exists() is False  # the laptop keeps nothing of the app's store
