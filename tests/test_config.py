"""Settings: environment variables, no side effects at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from modelmedic.config import Settings


def test_environment_overrides(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELMEDIC_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    settings = Settings()
    assert settings.home == tmp_path / "h"
    assert settings.resolved_tracking_uri == "http://127.0.0.1:5999"
    assert settings.database_url == "postgres://u@h/db"


def test_default_store_is_in_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MODELMEDIC_TRACKING_URI", raising=False)
    settings = Settings(home=tmp_path / "home")
    assert settings.resolved_tracking_uri == f"sqlite:///{(tmp_path / 'home' / 'mlflow.db').resolve()}"
    assert not (tmp_path / "home").exists()  # nothing created until work starts


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = (
        "import modelmedic, modelmedic.config, modelmedic.cli, modelmedic.data, modelmedic.tracking, "
        "modelmedic.training, modelmedic.schema\n"
        "import os; print(sorted(os.listdir('.')))\n"
        "import mlflow; print(mlflow.get_tracking_uri())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    listing, uri = result.stdout.strip().splitlines()[-2:]
    assert listing == "[]"
    assert "modelmedic-home" not in uri


def test_keyword_overrides_by_field_name() -> None:
    """CLI options pass field names; aliased fields must accept them too."""
    settings = Settings(tracking_uri="http://127.0.0.1:5999", database_url="sqlite:///x.db")
    assert settings.resolved_tracking_uri == "http://127.0.0.1:5999"
    assert settings.database_url == "sqlite:///x.db"
