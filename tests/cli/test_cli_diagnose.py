"""The Diagnose step's commands on data holding inf: drift and monitor count them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelmedic.cli import app

runner = CliRunner()


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
