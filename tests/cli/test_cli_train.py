"""The Train step's commands: data and train (JSON output, one-line user errors)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelmedic.cli import app

runner = CliRunner()


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
