"""How the web process gets its model: never trained or used before fork, proved before a
swap, refreshed on every worker. Real gunicorn (the Procfile's command), real MLflow stores."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import SERVICE_ENV
from servers import INSTANCE, ROOT, ProcfileServer, procfile_command, service_env


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
    store = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
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
