"""The command line: help everywhere, no heavy imports on start-up, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from modelmedic.cli import app

runner = CliRunner()


def command_names() -> list[str]:
    return sorted(cmd.name for cmd in typer.main.get_command(app).commands.values())


def test_every_command_has_help_with_an_example() -> None:
    """A command without help text or an example fails here (sqlite-utils' test_docs)."""
    names = command_names()
    assert {"data", "train", "ui", "demo"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output and f"modelmedic {name}" in result.output, name


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from modelmedic.cli import app\n"
        "from typer.testing import CliRunner\n"
        "import typer\n"
        "names = [c.name for c in typer.main.get_command(app).commands.values()]\n"
        "for args in (['--help'], *[[c, '--help'] for c in names]):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "heavy = ('evidently', 'mlflow', 'sklearn', 'pandas', 'plotly', 'matplotlib', 'fastapi', 'sqlalchemy',\n"
        "         'pyspark', 'py4j')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_python_dash_m_works() -> None:
    result = subprocess.run([sys.executable, "-m", "modelmedic", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("modelmedic ")


def test_data_command(settings, bike_dir) -> None:
    result = runner.invoke(app, ["data", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 17379 and summary["start"] == "2011-01-01 00:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "--data", "/nonexistent/bike"], "does not exist"),
        (["train", "--kind", "xgb"], "unknown model kind"),
        (["train", "--start", "2030-01-01", "--end", "2030-02-01"], "no rows between"),
    ],
)
def test_user_errors_are_one_line(settings, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_train_command_json(settings) -> None:
    result = runner.invoke(app, ["train", "--kind", "rf", "--eval-weeks", "1", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["version"] == "1" and payload["metrics"]["eval/mae"] > 0


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


@pytest.fixture
def bike_with_inf(tmp_path, bike_dir):
    """The first three months of hour.csv as a user's file with its schema, 49 ``temp``
    values of March set to ``inf`` and 3 ``hum`` values to ``-inf``."""
    from importlib import resources

    import numpy as np
    import pandas as pd

    raw = pd.read_csv(bike_dir / "hour.csv")
    raw = raw.loc[raw["dteday"] < "2011-04-01"].copy()
    march = raw.index[raw["dteday"] >= "2011-03-01"]
    raw.loc[march[:49], "temp"] = np.inf
    raw.loc[march[60:63], "hum"] = -np.inf
    path = tmp_path / "hours.csv"
    raw.to_csv(path, index=False)
    schema = tmp_path / "hours.toml"
    builtin = (resources.files("modelmedic.datasets") / "bike-hour.toml").read_text()
    schema.write_text(builtin.replace('name = "bike-hour"', 'name = "hours"'))
    return path, schema, raw


def test_drift_reports_non_finite_values(tmp_path, bike_with_inf) -> None:
    _, _, raw = bike_with_inf
    raw.loc[raw["dteday"] < "2011-02-01"].to_csv(tmp_path / "january.csv", index=False)
    raw.loc[raw["dteday"] >= "2011-03-01"].to_csv(tmp_path / "march.csv", index=False)
    files = [str(tmp_path / "january.csv"), str(tmp_path / "march.csv"), "--numerical", "temp,hum"]

    result = runner.invoke(app, ["drift", *files, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["non_finite"] == {"reference": {}, "current": {"temp": 49, "hum": 3}}

    table = runner.invoke(app, ["drift", *files])
    assert "the current data hold non-finite values (inf, -inf), left out of the tests: temp 49, hum 3" in table.output


def test_monitor_reports_non_finite_values_in_its_quality(trained, settings, bike_with_inf) -> None:
    """Rows holding inf are not scored (the model cannot) but counted, in the JSON and in
    MLflow (``quality/non_finite``), instead of a traceback."""
    from mlflow import MlflowClient

    path, schema, _ = bike_with_inf
    result = runner.invoke(app, ["monitor", "--data", str(path), "--schema", str(schema), "--html", "none", "--json"])

    assert result.exit_code == 0, result.output
    windows = json.loads(result.stdout)["windows"]
    found = {w["begin"][:10]: w["quality"]["non_finite"] for w in windows if w["quality"]["non_finite"]}
    assert sum(n.get("temp", 0) for n in found.values()) == 49
    assert sum(n.get("hum", 0) for n in found.values()) == 3
    run_id = next(w["run_id"] for w in windows if w["quality"]["non_finite"])
    metrics = MlflowClient(settings.resolved_tracking_uri).get_run(run_id).data.metrics
    assert metrics["quality/non_finite"] > 0


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
