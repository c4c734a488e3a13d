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
