"""modelmedic serve --check: what it reports, and that it creates nothing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modelmedic.cli import app

runner = CliRunner()


def tree(folder) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time (``0, 0`` for folders)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (0, 0)
        for p in folder.rglob("*")
    }


@pytest.mark.parametrize(
    ("database", "message"),
    [
        (None, "the MLflow store sqlite:///"),
        ("sqlite:///{tmp}/some/dir/x.db", "the MLflow store sqlite:///"),
    ],
    ids=["default", "nested-sqlite"],
)
def test_serve_check_on_nothing_creates_nothing(settings, tmp_path, monkeypatch, database, message) -> None:
    """A check reports what is missing; it creates no folder, database or store."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MODELMEDIC_HOME", str(work / "home"))
    if database:
        monkeypatch.setenv("DATABASE_URL", database.format(tmp=work))

    result = runner.invoke(app, ["serve", "--check"])

    assert result.exit_code != 0 and message in result.output and "does not exist" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert tree(work) == {}


def test_serve_check_reads_a_prepared_service_without_changing_it(trained, settings, tmp_path, monkeypatch) -> None:
    from modelmedic.service.lifecycle import preflight

    monkeypatch.chdir(tmp_path)
    log = tmp_path / "some" / "dir" / "x.db"
    missing = runner.invoke(app, ["serve", "--check", "--database-url", f"sqlite:///{log}"])
    assert missing.exit_code != 0 and "does not exist: run 'modelmedic serve --prepare'" in missing.output
    assert not (tmp_path / "some").exists()

    prepared = preflight(settings.model_copy(update={"database_url": f"sqlite:///{log}"}))
    before = tree(tmp_path)
    result = runner.invoke(app, ["serve", "--check", "--database-url", f"sqlite:///{log}"])

    assert result.exit_code == 0, result.output
    assert "ready: model models:/bike-demand@champion version 1" in result.output
    assert f"schema v{prepared.schema_version}" in result.output
    assert tree(tmp_path) == before


def test_serve_check_of_a_model_folder_needs_no_store(trained, settings, tmp_path, monkeypatch) -> None:
    """A model given by path is checked without an MLflow store, and nothing is created."""
    from modelmedic.service.prediction_log import PredictionStore

    model_dir = next(settings.artifact_root.rglob("MLmodel")).parent
    log = tmp_path / "log.db"
    PredictionStore(f"sqlite:///{log}").open().close()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MODELMEDIC_HOME", str(work / "home"))

    result = runner.invoke(
        app, ["serve", "--check", "--model-uri", str(model_dir), "--database-url", f"sqlite:///{log}"]
    )

    assert result.exit_code == 0, result.output
    assert f"ready: model {model_dir} version -" in result.output
    assert tree(work) == {}
