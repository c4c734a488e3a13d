"""Shared fixtures: the real bike data from ../shared, a settings object on a tmp home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_BIKE = ROOT.parent / "shared" / "data" / "bike-sharing"


def _bike_dir() -> Path:
    configured = os.environ.get("MODELMEDIC_DATA_DIR")
    path = Path(configured) if configured else SHARED_BIKE
    if not (path / "hour.csv").is_file():
        pytest.skip(f"the bike data are not at {path}: set MODELMEDIC_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def bike_dir() -> Path:
    """The folder holding the real UCI files (hour.csv, day.csv)."""
    return _bike_dir()


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

    for var in (
        "MLFLOW_TRACKING_URI",
        "MODELMEDIC_TRACKING_URI",
        "DATABASE_URL",
        "MODELMEDIC_DATABASE_URL",
        "MODELMEDIC_MODEL_URI",
        "MODELMEDIC_API_TOKEN",
    ):
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
