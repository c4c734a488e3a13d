"""How the web process gets its model: never trained or used before fork, proved before a
swap, refreshed on every worker. Real gunicorn (the Procfile's command), real MLflow stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from conftest import SERVICE_ENV
from servers import BIN, INSTANCE, ROOT, ProcfileServer, procfile_command, service_env, wait_until

TOKEN = "service-models-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="session")
def hgb_home(tmp_path_factory: pytest.TempPathFactory, bike_dir: Path, bike, bike_schema) -> Path:
    """A home whose store holds the default model (gradient boosting, OpenMP) as champion."""
    from modelmedic.config import Settings
    from modelmedic.training import train_and_register

    home = tmp_path_factory.mktemp("hgb") / "home"
    with pytest.MonkeyPatch.context() as patch:
        for var in SERVICE_ENV:
            patch.delenv(var, raising=False)
        train_and_register(bike, bike_schema, settings=Settings(home=home, data_dir=bike_dir), source="test")
    return home


def run_web_until_exit(env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run the Procfile's web command; kill its process group and fail if it outlives ``timeout``."""
    command = procfile_command("web").replace("0.0.0.0", "127.0.0.1")
    process = subprocess.Popen(
        ["bash", "-c", command], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        raise AssertionError(f"the web process still runs after {timeout:.0f} s: {stderr[-2000:]}") from None
    return process.returncode, stderr


@pytest.mark.slow
def test_web_on_an_empty_store_trains_nothing_and_names_the_release_phase(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    home = tmp_path / "empty"
    env = service_env(home, PORT="1", WEB_CONCURRENCY="2", MODELMEDIC_TRAIN_ON_BOOT="true")

    code, stderr = run_web_until_exit(env, timeout=90)

    assert code != 0
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "modelmedic serve --prepare" in errors[0], stderr
    assert "Traceback" not in stderr
    uri = f"sqlite:///{home / 'mlflow.db'}"
    store = MlflowClient(uri, registry_uri=uri)  # not the registry an earlier test set for the process
    assert store.search_registered_models() == [] and store.search_runs(["0"]) == []


@pytest.mark.slow
def test_workers_forked_from_the_master_predict_with_gradient_boosting(hgb_home: Path, tmp_path: Path) -> None:
    env = service_env(hgb_home, DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}")

    with ProcfileServer(env, tmp_path / "web.log", workers=2) as server, httpx.Client(base_url=server.url) as client:
        # each answer within 10 s (a worker stuck in OpenMP never answers); enough calls to reach both workers
        answers = [client.post("/predict", json={**INSTANCE, "hr": i % 24}, timeout=10) for i in range(40)]
        estimator = client.get("/model").json()["estimator"]

    assert {a.status_code for a in answers} == {200}
    assert "HistGradientBoosting" in estimator


def bad_champion(kind: str, settings, bike, bike_schema) -> str:
    """Register, in the trusted format, a champion that cannot serve: ``no_predict`` (a fitted
    scaler) or ``non_finite`` (a pipeline whose regression predicts NaN)."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    from modelmedic import tracking
    from modelmedic.model import build_model, feature_frame, fit

    rows = bike.loc["2011-01-01":"2011-01-28"]
    example = feature_frame(rows.head(5), bike_schema)
    if kind == "no_predict":
        model = StandardScaler().fit(example.astype(float))
    else:
        model = build_model("rf", bike_schema)
        model.steps[1] = ("regressor", LinearRegression())
        fit(model, rows, bike_schema).steps[1][1].coef_[:] = np.nan
    tracking.configure(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id("bad-models", settings)):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            serialization_format="skops",
            skops_trusted_types=tracking.trusted_types(model),
        )
    return tracking.register(info.model_uri, settings.model_name, settings=settings)


@pytest.mark.parametrize("kind", ["no_predict", "non_finite"])
def test_a_champion_that_cannot_predict_is_never_swapped_in(
    kind: str, trained, settings, bike, bike_schema, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from modelmedic.cli import app as cli_app
    from modelmedic.service.app import create_app
    from servers import ThreadServer

    served = settings.model_copy(
        update={"api_token": TOKEN, "database_url": f"sqlite:///{tmp_path / 'log.db'}", "model_refresh_seconds": 0}
    )
    with ThreadServer(create_app(served)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        bad_champion(kind, settings, bike, bike_schema)
        reload = client.post("/admin/reload", headers=AUTH)
        model, predicted = client.get("/model").json(), client.post("/predict", json=INSTANCE)
        metrics = client.get("/metrics").text
    check = CliRunner().invoke(cli_app, ["--home", str(settings.home), "serve", "--check"])

    assert reload.status_code == 409
    detail = reload.json()["detail"]
    assert detail.startswith("reload failed, still serving version 1") and "\n" not in detail
    assert model["version"] == "1"
    assert predicted.status_code == 200 and predicted.json()["model_version"] == "1"
    assert f'modelmedic_model_reload_failures_total{{reason="{kind}",trigger="admin"}} 1.0' in metrics
    assert check.exit_code != 0 and len(check.output.strip().splitlines()) == 1, check.output


def train_from_another_process(home: Path) -> None:
    """Register a new champion the way a one-off dyno does: ``modelmedic train`` in its own process."""
    done = subprocess.run(
        [str(BIN / "modelmedic"), "--home", str(home), "train", "--kind", "rf"],
        env=service_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


class VersionWatcher:
    """Calls ``/predict`` and ``/model`` on fresh connections (any worker may answer) from a
    thread until stopped; keeps every version answered."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.versions: list[str] = []
        self.errors: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.versions.extend(versions_answered(self.url, 1, self.errors))

    def __enter__(self) -> VersionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def versions_answered(url: str, rounds: int, errors: list[int] | None = None) -> list[str]:
    """The versions of ``rounds`` × (``/predict``, ``/model``), each on a new connection."""
    found = []
    for _ in range(rounds):
        predicted = httpx.post(f"{url}/predict", json=INSTANCE, timeout=30)
        described = httpx.get(f"{url}/model", timeout=30)
        for answer, key in ((predicted, "model_version"), (described, "version")):
            if answer.status_code == 200:
                found.append(answer.json()[key])
            elif errors is not None:
                errors.append(answer.status_code)
    return found


def workers_serving(folder: Path) -> dict[str, str]:
    """The version each worker recorded in the server's reload folder, by pid."""
    return {p.stem: json.loads(p.read_text())["version"] for p in folder.glob("worker-*.json")}


@pytest.mark.slow
def test_every_worker_follows_a_new_champion_without_a_restart(trained, settings, tmp_path: Path) -> None:
    board = tmp_path / "reload"
    board.mkdir()
    env = service_env(
        settings.home,
        DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}",
        MODELMEDIC_MODEL_REFRESH_SECONDS="2",
        MODELMEDIC_RELOAD_DIR=str(board),
    )
    with ProcfileServer(env, tmp_path / "web.log", workers=2) as server:
        assert set(versions_answered(server.url, 10)) == {"1"}
        with VersionWatcher(server.url) as watcher:
            train_from_another_process(settings.home)
            wait_until(lambda: list(workers_serving(board).values()) == ["2", "2"], 60, "both workers on version 2")
            # the watcher's own calls, slowed on a loaded machine, must have met the switch too
            wait_until(lambda: "2" in watcher.versions, 30, "the watcher to be answered by version 2")
        after = versions_answered(server.url, 20)

    assert set(after) == {"2"}
    assert set(watcher.versions) <= {"1", "2"} and "2" in watcher.versions
    assert watcher.errors == []


@pytest.mark.slow
def test_admin_reload_switches_every_worker_at_once(trained, settings, tmp_path: Path) -> None:
    env = service_env(
        settings.home,
        DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}",
        MODELMEDIC_MODEL_REFRESH_SECONDS="0",
        MODELMEDIC_API_TOKEN=TOKEN,
    )
    with ProcfileServer(env, tmp_path / "web.log", workers=2) as server, VersionWatcher(server.url) as watcher:
        train_from_another_process(settings.home)
        before = versions_answered(server.url, 10)  # refresh disabled: still the old champion
        reload = httpx.post(f"{server.url}/admin/reload", headers=AUTH, timeout=120)
        after = versions_answered(server.url, 20)

    assert set(before) == {"1"}
    assert reload.status_code == 200, reload.text
    answer = reload.json()
    assert answer["model_version"] == "2" and answer["complete"] is True
    assert list(answer["workers"].values()) == ["2", "2"]
    assert set(after) == {"2"}
    assert set(watcher.versions) <= {"1", "2"} and watcher.errors == []
