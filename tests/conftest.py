"""Shared fixtures: the real bike data (found the way users find it), settings on a tmp home."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# variables naming stores and models: a test must not pick up the developer's own
STORE_ENV = (
    "MLFLOW_TRACKING_URI",
    "MODELMEDIC_TRACKING_URI",
    "DATABASE_URL",
    "MODELMEDIC_DATABASE_URL",
    "MODELMEDIC_MODEL_URI",
    "MODELMEDIC_API_TOKEN",
)
DATA_FIXTURES = {"bike_dir", "bike"}
NO_DATA = (
    "the tests need the UCI bike data and found none: set MODELMEDIC_DATA_DIR to a folder or zip holding "
    "hour.csv and day.csv, or run `make demo` once online to fill the cache"
)


def resolve_bike_dir() -> Path:
    """The verified bike data folder, found as modelmedic finds it for its users:
    ``MODELMEDIC_DATA_DIR``, else the user cache that ``make demo`` fills, else the
    verified download.

    Raises:
        DataError: when no source holds the data (offline, nothing cached).
    """
    from modelmedic.config import Settings
    from modelmedic.data import ensure_bike_data

    return ensure_bike_data(None, Settings(), progress=False)


def pytest_configure(config: pytest.Config) -> None:
    """Servers started by the tests inherit this: no `mlflow server` starts MLflow's job
    runner (eight processes of ~230 MB each, which the project never uses)."""
    import os

    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Find the data before the first test runs when any selected test needs it: a run
    without a source stops at once with one line instead of skipping half the suite."""
    from modelmedic.errors import DataError

    if config.option.collectonly or not any(DATA_FIXTURES & set(getattr(item, "fixturenames", ())) for item in items):
        return
    try:
        config.stash[BIKE_DIR] = resolve_bike_dir()
    except DataError as exc:
        pytest.exit(f"{NO_DATA} ({exc})", returncode=4)


BIKE_DIR = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def bike_dir(pytestconfig: pytest.Config) -> Path:
    """The folder holding the real, verified UCI files (hour.csv, day.csv)."""
    if BIKE_DIR not in pytestconfig.stash:
        pytestconfig.stash[BIKE_DIR] = resolve_bike_dir()
    return pytestconfig.stash[BIKE_DIR]


@pytest.fixture(scope="session")
def bike_schema():
    from modelmedic.schema import builtin_schema

    return builtin_schema("bike-hour")


@pytest.fixture(scope="session")
def bike(bike_dir: Path):
    """The hourly bike data as loaded by modelmedic (do not mutate: it is shared)."""
    from modelmedic.config import Settings
    from modelmedic.data import load_bike

    return load_bike("hour", bike_dir, Settings(data_dir=bike_dir), progress=False)


@pytest.fixture
def settings(tmp_path: Path, bike_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings on a fresh home folder with a local sqlite MLflow store."""
    from modelmedic.config import Settings, get_settings

    for var in STORE_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MODELMEDIC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELMEDIC_DATA_DIR", str(bike_dir))
    monkeypatch.setenv("MODELMEDIC_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield Settings()
    get_settings.cache_clear()


@pytest.fixture
def trained(settings, bike, bike_schema):
    """A champion model trained on the default reference period in the tmp store."""
    from modelmedic.training import train_and_register

    return train_and_register(bike, bike_schema, settings=settings, kind="rf", source="test")


SERVICE_ENV = (*STORE_ENV, "MODELMEDIC_HOME", "PROMETHEUS_MULTIPROC_DIR")


@pytest.fixture(scope="session")
def champion_home(tmp_path_factory: pytest.TempPathFactory, bike_dir: Path, bike, bike_schema) -> Path:
    """A home folder whose sqlite MLflow store holds a champion RF model, trained once per
    session for the service tests. Read-only: tests that register versions use ``trained``."""
    home = tmp_path_factory.mktemp("champion") / "home"
    with pytest.MonkeyPatch.context() as patch:
        isolated_champion(patch, home, bike_dir, bike, bike_schema)
    return home


def isolated_champion(patch: pytest.MonkeyPatch, home: Path, bike_dir: Path, bike, bike_schema):
    """Clear the store variables, train a champion RF in ``home``'s store; return its settings."""
    from modelmedic.config import Settings
    from modelmedic.training import train_and_register

    for var in SERVICE_ENV:
        patch.delenv(var, raising=False)
    settings = Settings(home=home, data_dir=bike_dir)
    train_and_register(bike, bike_schema, settings=settings, kind="rf", source="test")
    return settings


DASHBOARD_END = "2011-02-25"  # four weekly windows after the reference: quick, and they drift


@pytest.fixture(scope="session")
def dashboard_home(tmp_path_factory: pytest.TempPathFactory, bike_dir: Path, bike, bike_schema) -> Path:
    """A home folder holding what the dashboard shows, made by the real library functions
    once per session: a champion RF model, a tracked monitoring job (fast engine, every
    window's evidently report) over the four weeks after the reference, a retrain decision
    at their end and a backtest of three strategies over those weeks."""
    from modelmedic import monitor
    from modelmedic.backtest import backtest_and_report, config_from_settings
    from modelmedic.retraining.decision import retrain
    from modelmedic.windows import windows_after

    home = tmp_path_factory.mktemp("dashboard") / "home"
    with pytest.MonkeyPatch.context() as patch:
        settings = isolated_champion(patch, home, bike_dir, bike, bike_schema)
        windows = windows_after(bike.loc[:DASHBOARD_END], settings.reference_end, "1W")
        monitor.run(bike, bike_schema, settings=settings, windows=windows, engine="fast", html="all")
        history = bike.loc[:DASHBOARD_END]
        retrain(history, bike_schema, "periodic:1W", settings=settings, until=DASHBOARD_END, force=True)
        config = config_from_settings(settings, kind="rf", workers=1)
        backtest_and_report(history, bike_schema, ["never", "periodic:1W", "drift:0.5"], config, settings, log=False)
    return home


@pytest.fixture
def http_process(tmp_path: Path):
    """Run a server command for the length of a block, once ``ready_url`` answers 200:
    ``with http_process([...], "http://127.0.0.1:PORT/health"): ...`` (its output goes to
    ``tmp_path / "server.log"``, quoted when it exits early)."""
    import subprocess
    from contextlib import contextmanager

    import httpx

    from servers import wait_until

    @contextmanager
    def running(command: list[str], ready_url: str, env: dict[str, str] | None = None):
        log = tmp_path / "server.log"
        with open(log, "wb") as out:
            # a group of its own: stopping it stops every process it started
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{command[0]} exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                return httpx.get(ready_url, timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(answers, 180, f"{ready_url} to answer", interval=0.5)
            yield process
        finally:
            stop_group(process)

    return running


def stop_group(process) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started."""
    import os
    import signal
    import subprocess

    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
            process.wait(grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database for this run, dropped afterwards."""
    from sqlalchemy import create_engine

    from databases import PG_HOST, PG_ROLES, admin_url

    admin = admin_url()
    if admin is None:
        pytest.skip(f"no PostgreSQL with trust auth for {', '.join(PG_ROLES)} at {PG_HOST}")
    name = f"modelmedic_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
