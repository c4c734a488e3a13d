"""The MLflow store failing: bounded waits, "does not answer" instead of "no model", and no
password in any message, answer or command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from conftest import STORE_ENV, stop_group
from modelmedic import tracking
from modelmedic.cli import app
from modelmedic.config import Settings
from modelmedic.drift.profile import load_profile_for_model
from modelmedic.errors import TrackingError
from servers import free_port

PASSWORD = "s3cret-pw"
HTTP_LIMITS = ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR")


def cli_env(tmp_path: Path, bike_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``modelmedic`` process on a fresh home, without the caller's stores."""
    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV and k not in HTTP_LIMITS}
    env.update(MODELMEDIC_HOME=str(tmp_path / "home"), MODELMEDIC_DATA_DIR=str(bike_dir), **extra)
    return env


def prepare_log(home: Path) -> None:
    """Create the home's prediction log, so that a check goes on to the model."""
    from modelmedic.service.prediction_log import PredictionStore

    PredictionStore(f"sqlite:///{home / 'predictions.db'}").open().close()


def said(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("store", "command"),
    [
        ("http://bob:{password}@127.0.0.1:{port}/", ["serve", "--check"]),
        ("http://bob:{password}@127.0.0.1:{port}/", ["train", "--kind", "rf"]),
        ("http://bob:{password}@127.0.0.1:{port}/", ["monitor", "--html", "none"]),
        ("postgresql+psycopg://bob:{password}@127.0.0.1:{port}/mlflow", ["serve", "--check"]),
    ],
    ids=["http-serve", "http-train", "http-monitor", "postgresql-serve"],
)
def test_an_unreachable_tracking_store_is_named_in_one_line(tmp_path: Path, bike_dir: Path, store, command) -> None:
    """A closed loopback port: each command gives up within the deadline and says the store
    does not answer (not "no model, run modelmedic train"), without the password."""
    uri = store.format(password=PASSWORD, port=free_port())
    if command[0] == "serve":
        prepare_log(tmp_path / "home")
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "modelmedic", *command],
        env=cli_env(tmp_path, bike_dir, MLFLOW_TRACKING_URI=uri),
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = said(result)
    assert result.returncode != 0 and time.monotonic() - began < 30
    assert len(lines) == 1, lines
    assert f"the MLflow tracking store at {uri.replace(PASSWORD, '***')} does not answer" in lines[0]
    assert PASSWORD not in lines[0] and "modelmedic train" not in lines[0] and "Traceback" not in lines[0]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (a stalled tracking server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_stalled_tracking_server_times_out_as_configured(
    silent_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelmedic import tracking
    from modelmedic.config import Settings
    from modelmedic.errors import TrackingError

    for var in HTTP_LIMITS:
        monkeypatch.delenv(var, raising=False)
    settings = Settings(
        home=tmp_path / "home",
        tracking_uri=silent_server,
        tracking_timeout_seconds=1,
        tracking_max_retries=1,
        tracking_backoff_seconds=0,
    )
    tracking.configure(settings)  # imports MLflow (seconds on a busy machine) without a request
    began = time.monotonic()
    with pytest.raises(TrackingError, match=r"does not answer: .*timed out.*2 tries of 1 s"):
        tracking.champion(settings)
    # two tries of one second each; MLflow's own defaults wait 8 x 120 s
    assert time.monotonic() - began < 10


def test_the_users_own_mlflow_limits_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelmedic.config import Settings
    from modelmedic.tracking import bound_http_waits

    for var in HTTP_LIMITS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "77")
    monkeypatch.setenv("MODELMEDIC_TRACKING_MAX_RETRIES", "4")
    assert bound_http_waits(Settings()) == {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "77",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    # a later configuration replaces modelmedic's own values, never the user's
    applied = bound_http_waits(Settings(tracking_max_retries=0, tracking_timeout_seconds=5))
    assert applied["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0" and applied["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"


@pytest.fixture
def postgres_store() -> Iterator[str]:
    """A fresh PostgreSQL database for an MLflow store, its URI holding a password (trust auth
    ignores it), dropped afterwards."""
    from sqlalchemy import create_engine

    from databases import admin_url

    admin = admin_url()
    if admin is None:
        pytest.skip("no PostgreSQL with trust auth on 127.0.0.1:5432")
    name = f"modelmedic_tracking_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    role = admin.split("://", 1)[1].split("@", 1)[0]
    try:
        yield f"postgresql+psycopg://{role}:{PASSWORD}@127.0.0.1:5432/{name}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, read from /proc."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with_children = task / "children"
            if with_children.is_file():
                pending.extend(int(c) for c in with_children.read_text().split())
    return found


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_ui_passes_the_store_password_by_environment_and_messages_mask_it(
    postgres_store: str, tmp_path: Path, bike_dir: Path, monkeypatch: pytest.MonkeyPatch, http_process
) -> None:
    port = free_port()
    env = cli_env(tmp_path, bike_dir, MLFLOW_TRACKING_URI=postgres_store)
    command = [sys.executable, "-m", "modelmedic", "ui", "--port", str(port)]
    with http_process(command, f"http://127.0.0.1:{port}/health", env) as process:
        tree = process_tree(process.pid)
        assert len(tree) > 1  # the mlflow server and its workers run
        for pid in tree:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            assert PASSWORD not in cmdline, f"process {pid} shows the password: {cmdline!r}"

        # the store answers but holds no champion: that is said, with the password masked
        for var in STORE_ENV:
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", postgres_store)
        prepare_log(tmp_path / "home")
        result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "serve", "--check"])
        assert result.exit_code != 0
        assert "no 'champion' model" in result.output and ":***@127.0.0.1:5432/" in result.output
        assert PASSWORD not in result.output
        # a database URL is masked as well (here a database holding no prediction log)
        result = CliRunner().invoke(app, ["monitor", "--source", postgres_store])
        assert result.exit_code != 0 and "holds no prediction log" in result.output and ":***@" in result.output
        assert PASSWORD not in result.output
    printed = (tmp_path / "server.log").read_text()
    assert "MLflow UI for postgresql+psycopg://" in printed and PASSWORD not in printed


@pytest.mark.slow
def test_reload_answers_409_naming_the_silent_store_without_its_password(
    tmp_path: Path, bike, bike_schema, monkeypatch: pytest.MonkeyPatch, http_process
) -> None:
    """A champion on a real tracking server whose URI holds a password (the server has no
    auth and ignores it); the server stops; a reload answers 409 within the bounded wait,
    says the store does not answer, and shows the URI masked. The old model keeps serving."""
    from modelmedic.config import Settings
    from modelmedic.service.app import create_app
    from modelmedic.training import train_and_register
    from servers import ThreadServer

    for var in (*STORE_ENV, *HTTP_LIMITS):
        monkeypatch.delenv(var, raising=False)
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'server.db'}"}
    with http_process(command, f"http://127.0.0.1:{port}/health", env) as server:
        settings = Settings(
            home=tmp_path / "home",
            tracking_uri=f"http://bob:{PASSWORD}@127.0.0.1:{port}",
            database_url=f"sqlite:///{tmp_path / 'predictions.db'}",
            api_token="token",
            tracking_timeout_seconds=2,
            tracking_max_retries=1,
        )
        train_and_register(bike, bike_schema, settings=settings, kind="rf", source="test")
        with ThreadServer(create_app(settings)) as service:
            stop_group(server)
            began = time.monotonic()
            answer = httpx.post(f"{service.url}/admin/reload", headers={"Authorization": "Bearer token"}, timeout=60)
            assert time.monotonic() - began < 30
            assert answer.status_code == 409
            detail = answer.json()["detail"]
            assert "does not answer" in detail and f"http://bob:***@127.0.0.1:{port}" in detail
            assert PASSWORD not in answer.text
            assert httpx.get(f"{service.url}/health", timeout=10).status_code == 200


def _closed_store(tmp_path: Path) -> Settings:
    """Settings naming a tracking server on a closed loopback port, with short waits."""
    return Settings(
        home=tmp_path / "home",
        tracking_uri=f"http://bob:{PASSWORD}@127.0.0.1:{free_port()}",
        tracking_timeout_seconds=1,
        tracking_max_retries=0,
        tracking_backoff_seconds=0,
    )


def _open_a_run(settings: Settings, _folder: Path) -> None:
    with tracking.start_run("0", "never", settings):
        pass


NO_RUN = "0" * 32
# the door's calls that used to let a store failure through as a traceback
UNWRAPPED_BEFORE: dict[str, Callable[[Settings, Path], object]] = {
    "register": lambda s, _: tracking.register(f"runs:/{NO_RUN}/model", "m", settings=s),
    "client-call": lambda s, _: tracking.client(s).search_experiments(),
    "log-values": lambda s, _: tracking.log_values(tracking.client(s), NO_RUN, {"mae": 1.0}),
    "start-run": _open_a_run,
    "model-run-id": lambda s, _: tracking.model_run_id("models:/m@champion", s),
    "download-artifact": lambda s, folder: tracking.download_artifact(NO_RUN, "reference_profile", folder, s),
    "reference-profile": lambda s, _: load_profile_for_model("models:/m@champion", s),
}


@pytest.mark.parametrize("call", list(UNWRAPPED_BEFORE))
def test_every_call_through_the_door_names_an_unreachable_store_in_one_line(
    call: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (*STORE_ENV, *HTTP_LIMITS):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(TrackingError) as raised:
        UNWRAPPED_BEFORE[call](_closed_store(tmp_path), tmp_path)
    message = str(raised.value)
    assert "\n" not in message and "does not answer" in message, message
    assert PASSWORD not in message and "http://bob:***@127.0.0.1:" in message


def test_a_refusal_by_a_store_that_answers_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client the door hands out: MLflow's refusal becomes a TrackingError; what is not
    a call (its tracking URI) passes through."""
    for var in STORE_ENV:
        monkeypatch.delenv(var, raising=False)
    settings = Settings(home=tmp_path / "home")
    mlflow_client = tracking.client(settings)
    assert mlflow_client.tracking_uri == settings.resolved_tracking_uri
    with pytest.raises(TrackingError, match=r"^the MLflow tracking store at sqlite:.* refused: ") as raised:
        mlflow_client.get_run(NO_RUN)
    assert "\n" not in str(raised.value)
