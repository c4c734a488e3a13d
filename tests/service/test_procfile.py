"""The Heroku files, and the Procfile's own processes run for real on loopback.

The ``web`` command is read from the Procfile and started by bash with ``PORT`` set (its
``0.0.0.0`` replaced by ``127.0.0.1``): gunicorn with uvicorn workers, as on a dyno.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import httpx
import pytest

from modelmedic.service.prediction_log import PredictionStore
from servers import INSTANCE, ROOT, ProcfileServer, procfile_command, service_env, wait_until

TOKEN = "procfile-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_procfile_declares_web_and_release() -> None:
    web = procfile_command("web")
    assert web.startswith("gunicorn ") and "0.0.0.0:$PORT" in web and "modelmedic.service" in web
    assert procfile_command("release").startswith("modelmedic serve --prepare")


def test_heroku_files_agree_with_the_project() -> None:
    manifest = json.loads((ROOT / "app.json").read_text())
    assert any(a["plan"].startswith("heroku-postgresql") for a in manifest["addons"])
    assert manifest["env"]["MODELMEDIC_API_TOKEN"]["generator"] == "secret"
    version = (ROOT / ".python-version").read_text().strip()
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"
    requirements = (ROOT / "requirements.txt").read_text().split()
    assert ".[serve]" in requirements
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    for package in ("gunicorn", "uvicorn-worker", "fastapi", "psycopg"):
        assert any(req.startswith(package) for req in extras), package


@pytest.mark.slow
def test_release_command_finds_the_champion(champion_home: Path, tmp_path: Path) -> None:
    env = service_env(champion_home, DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}")

    done = subprocess.run(
        ["bash", "-c", procfile_command("release")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr
    assert "ready: model models:/bike-demand@champion version 1" in done.stdout
    assert (tmp_path / "log.db").is_file()


@pytest.mark.slow
def test_web_without_a_model_exits_naming_the_training_command(tmp_path: Path) -> None:
    env = service_env(tmp_path / "empty", PORT="1", WEB_CONCURRENCY="1")
    command = procfile_command("web").replace("0.0.0.0", "127.0.0.1")

    done = subprocess.run(["bash", "-c", command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert done.returncode != 0
    assert "modelmedic train" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_web_process_serves_predict_feedback_ready_and_metrics(champion_home: Path, tmp_path: Path) -> None:
    env = service_env(champion_home, MODELMEDIC_API_TOKEN=TOKEN, DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}")

    with ProcfileServer(env, tmp_path / "web.log", workers=2) as server, httpx.Client(base_url=server.url) as client:
        ids = []
        for hour in range(6):
            answer = client.post("/predict", json={**INSTANCE, "hr": hour})
            assert answer.status_code == 200
            ids.append(answer.json()["predictions"][0]["id"])
        feedback = client.post(
            "/feedback", json=[{"id": i, "cnt": 3.0} for i in ids] + [{"id": "x", "cnt": 1}], headers=AUTH
        )
        ready = client.get("/ready")
        metrics = client.get("/metrics").text

    assert feedback.json() == {"accepted": 6, "unknown": ["x"], "corrected": []}
    assert ready.status_code == 200 and ready.json()["model_version"] == "1"
    # the workers share their counters: the dyno's total whichever worker answers
    assert 'modelmedic_predictions_total{model_version="1"} 6.0' in metrics
    assert "modelmedic_feedback_labels_total 6.0" in metrics


@pytest.mark.slow
def test_no_answered_prediction_is_lost_when_the_server_is_killed(champion_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.db"
    env = service_env(champion_home, MODELMEDIC_API_TOKEN=TOKEN, DATABASE_URL=f"sqlite:///{log}")
    received: list[str] = []
    stop = threading.Event()

    def client_loop(url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not stop.is_set():
                try:
                    answer = client.post("/predict", json={"instances": [INSTANCE, {**INSTANCE, "hr": 9}]})
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 200:
                    received.extend(p["id"] for p in answer.json()["predictions"])

    server = ProcfileServer(env, tmp_path / "web.log", workers=2).start()
    clients = [threading.Thread(target=client_loop, args=(server.url,)) for _ in range(4)]
    try:
        for thread in clients:
            thread.start()
        wait_until(lambda: len(received) >= 200, 120, "200 answered predictions")
        server.signal(signal.SIGKILL)  # master and workers at once, mid-traffic
        server.process.wait(30)
    finally:
        stop.set()
        for thread in clients:
            thread.join(30)
        server.stop()

    answered = list(received)
    with ProcfileServer(env, tmp_path / "web-restarted.log", workers=1) as restarted:
        labels = [{"id": i, "cnt": 1.0} for i in answered]
        unknown: list[str] = []
        for start in range(0, len(labels), 1000):
            answer = httpx.post(
                f"{restarted.url}/feedback", json=labels[start : start + 1000], headers=AUTH, timeout=60
            )
            unknown += answer.json()["unknown"]

    assert len(answered) >= 200
    assert unknown == []
    stored = PredictionStore(f"sqlite:///{log}")
    assert set(answered) <= stored.ids()
    stored.close()
