"""Every command, given bad input, says what is wrong in one line and exits non-zero.

The table below holds bad inputs per command (dates, files, zips, CSV, schema TOML,
strategies, engines, ports, columns); a command missing from it fails
:func:`test_every_command_has_bad_inputs`, so a new command is covered as soon as it exists.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import isolated_champion
from modelmedic.cli import app

runner = CliRunner()

# {command: [(case id, arguments, words the one line holds)]}; {tmp} is a folder of bad files
BAD_INPUTS: dict[str, list[tuple[str, list[str], str]]] = {
    "data": [
        ("missing-folder", ["--data", "{tmp}/nowhere"], "does not exist"),
        ("damaged-zip", ["--data", "{tmp}/damaged.zip"], "damaged.zip is truncated or corrupt"),
        ("not-a-zip", ["--data", "{tmp}/bad.csv"], "neither a folder nor a valid zip"),
        ("bad-kind", ["--kind", "week"], "unknown bike data kind"),
    ],
    "train": [
        ("bad-start", ["--start", "garbage"], "'--start': 'garbage' is not a date"),
        ("bad-end", ["--end", "2011-02-31"], "'--end': '2011-02-31' is not a date"),
        ("bad-kind", ["--kind", "xgb"], "unknown model kind"),
        ("bad-weeks", ["--eval-weeks", "-1"], "--eval-weeks"),
        ("damaged-zip", ["--data", "{tmp}/damaged.zip"], "is truncated or corrupt"),
        ("bad-csv", ["--data", "{tmp}/bad.csv", "--schema", "{tmp}/ok.toml"], "cannot read bad.csv"),
        ("missing-csv", ["--data", "{tmp}/none.csv", "--schema", "{tmp}/ok.toml"], "none.csv not found"),
        ("bad-toml", ["--data", "{tmp}/hours.csv", "--schema", "{tmp}/bad.toml"], "bad.toml"),
        ("missing-toml", ["--schema", "{tmp}/none.toml"], "none.toml"),
        ("unknown-column", ["--data", "{tmp}/hours.csv", "--schema", "{tmp}/unknown-column.toml"], "pressure"),
        ("text-dates", ["--data", "{tmp}/text-dates.csv", "--schema", "{tmp}/ok.toml"], "not dates"),
    ],
    "ui": [
        ("bad-port", ["--port", "http"], "--port"),
    ],
    "demo": [
        ("damaged-zip", ["--data", "{tmp}/damaged.zip"], "is truncated or corrupt"),
        ("missing-folder", ["--data", "{tmp}/nowhere"], "does not exist"),
    ],
    "drift": [
        ("missing-file", ["{tmp}/none.csv", "{tmp}/hours.csv"], "none.csv not found"),
        ("bad-csv", ["{tmp}/bad.csv", "{tmp}/hours.csv"], "cannot read bad.csv"),
        ("not-a-table", ["{tmp}/damaged.zip", "{tmp}/hours.csv"], "expected a .csv or .parquet file"),
        ("bad-engine", ["{tmp}/hours.csv", "{tmp}/hours.csv", "--engine", "turbo"], "turbo"),
        ("bad-stattest", ["{tmp}/hours.csv", "{tmp}/hours.csv", "--stattest", "magic"], "unknown stattest 'magic'"),
        ("bad-pair", ["{tmp}/hours.csv", "{tmp}/hours.csv", "--per-column", "temp"], "COLUMN=VALUE"),
        ("bad-threshold", ["{tmp}/hours.csv", "{tmp}/hours.csv", "--per-column-threshold", "temp=high"], "temp=high"),
        ("unknown-column", ["{tmp}/hours.csv", "{tmp}/hours.csv", "--numerical", "pressure"], "pressure"),
        ("bad-share", ["{tmp}/hours.csv", "{tmp}/hours.csv", "--numerical", "temp", "--drift-share", "2"], "share"),
        ("both-types", ["{tmp}/hours.csv", "{tmp}/hours.csv", "--numerical", "hr", "--categorical", "hr"], "both"),
        ("empty", ["{tmp}/empty.csv", "{tmp}/hours.csv", "--numerical", "temp"], "no rows"),
    ],
    "serve": [
        ("bad-port", ["--port", "http"], "--port"),
        ("port-range", ["--port", "70000"], "--port"),
        ("bad-workers", ["--workers", "0"], "--workers"),
        ("missing-model", ["--check", "--model-uri", "{tmp}/no-model"], "cannot load model"),
        ("bad-database", ["--check", "--database-url", "nosuchdb://x"], "prediction log"),
    ],
    "monitor": [
        ("bad-window", ["--window", "fortnight"], "fortnight"),
        ("bad-reference", ["--reference-start", "garbage"], "'garbage' is not a date"),
        ("missing-batches", ["--batches", "{tmp}/none.csv"], "none.csv not found"),
        ("bad-batch-dates", ["--batches", "{tmp}/bad-batches.csv"], "is not a date"),
        ("bad-engine", ["--engine", "turbo"], "turbo"),
        ("bad-html", ["--html", "some"], "--html some"),
        ("bad-stattest", ["--stattest", "magic"], "unknown stattest 'magic'"),
        ("unknown-column", ["--per-column", "pressure=psi"], "pressure"),
        ("bad-source", ["--source", "nosuchdb://x"], "nosuchdb"),
        ("damaged-zip", ["--data", "{tmp}/damaged.zip"], "is truncated or corrupt"),
        ("bad-model", ["--model-uri", "{tmp}/no-model"], "cannot load model"),
    ],
    "dashboard": [
        ("bad-port", ["--port", "http"], "--port"),
        ("port-range", ["--port", "0"], "--port"),
    ],
    "backtest": [
        ("bad-strategy", ["-s", "sometimes"], "sometimes"),
        ("bad-window", ["-s", "never", "--window", "fortnight"], "fortnight"),
        ("bad-delay", ["-s", "never", "--label-delay", "soon"], "soon"),
        ("bad-kind", ["-s", "never", "--kind", "xgb"], "xgb"),
        ("bad-engine", ["-s", "drift:0.5", "--engine", "turbo"], "turbo"),
        ("bad-reference", ["-s", "never", "--reference-end", "garbage"], "'garbage' is not a date"),
        ("bad-workers", ["-s", "never", "--workers", "0"], "--workers"),
    ],
    "retrain": [
        ("no-strategy", [], "--strategy"),
        ("bad-strategy", ["-s", "sometimes", "--dry-run"], "sometimes"),
        ("bad-until", ["-s", "periodic:4W", "--until", "garbage", "--dry-run"], "'garbage' is not a date"),
        ("bad-delay", ["-s", "periodic:4W", "--label-delay", "soon", "--dry-run"], "soon"),
        ("bad-kind", ["-s", "periodic:4W", "--kind", "xgb", "--dry-run", "--force"], "xgb"),
    ],
}


def command_names() -> list[str]:
    return sorted(cmd.name for cmd in typer.main.get_command(app).commands.values())


def test_every_command_has_bad_inputs() -> None:
    assert set(BAD_INPUTS) == set(command_names())


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, bike_dir: Path, bike, bike_schema) -> Path:
    """A folder of broken inputs next to good ones, and a home whose store holds a champion."""
    from importlib import resources

    folder = tmp_path_factory.mktemp("bad-inputs")
    hours = (bike_dir / "hour.csv").read_text().splitlines()
    (folder / "hours.csv").write_text("\n".join(hours[: 24 * 90]) + "\n")
    (folder / "empty.csv").write_text(hours[0] + "\n")
    (folder / "bad.csv").write_text('dteday,temp\n"2011-01-01,0.2\n2011-01-02,0.3,0.4,0.5\n' * 3)
    (folder / "text-dates.csv").write_text(
        "\n".join([hours[0], *(",".join(["someday", *line.split(",")[2:]]).join(["1,", ""]) for line in hours[1:50])])
    )
    builtin = (resources.files("modelmedic.datasets") / "bike-hour.toml").read_text()
    (folder / "ok.toml").write_text(builtin.replace('name = "bike-hour"', 'name = "hours"'))
    (folder / "bad.toml").write_text('name = "hours"\nnumerical = [temp\n')
    (folder / "unknown-column.toml").write_text(
        builtin.replace('name = "bike-hour"', 'name = "hours"').replace('"windspeed"', '"windspeed", "pressure"')
    )
    (folder / "bad-batches.csv").write_text("begin,end\n2011-02-01,someday\n")
    # a zip whose directory is intact but whose compressed hour.csv is damaged (zlib.error)
    with zipfile.ZipFile(folder / "damaged.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(bike_dir / "hour.csv", "Bike-Sharing-Dataset/hour.csv")
        archive.write(bike_dir / "day.csv", "Bike-Sharing-Dataset/day.csv")
    data = bytearray((folder / "damaged.zip").read_bytes())
    data[5000:5400] = bytes(range(256)) + bytes(144)
    (folder / "damaged.zip").write_bytes(bytes(data))
    with pytest.MonkeyPatch.context() as patch:
        isolated_champion(patch, folder / "home", bike_dir, bike, bike_schema)
    return folder


@pytest.fixture
def bad_env(bad_files: Path, settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The environment of one case: a copy of the home with a champion, the bike data set."""
    home = tmp_path / "home"
    shutil.copytree(bad_files / "home", home)
    monkeypatch.setenv("MODELMEDIC_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return bad_files


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize(
    ("command", "args", "words"),
    [pytest.param(c, a, w, id=f"{c}-{case}") for c, cases in BAD_INPUTS.items() for case, a, w in cases],
)
def test_bad_input_is_one_line(bad_env: Path, command: str, args: list[str], words: str) -> None:
    result = runner.invoke(app, [command, *(a.format(tmp=bad_env) for a in args)])
    assert result.exit_code not in (0, None), result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    line = one_line(result.output)
    assert line.startswith("error: ") and words in line, line


@pytest.mark.parametrize("command", command_names())
def test_an_unknown_option_is_one_line(command: str) -> None:
    result = runner.invoke(app, [command, "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option: --no-such-option" in one_line(result.output)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["train", "--start", "garbage"], "'--start': 'garbage' is not a date"),
        (["data", "--data", "{tmp}/damaged.zip"], "damaged.zip is truncated or corrupt"),
        (["serve", "--port", "http"], "--port"),
    ],
    ids=["train-start", "data-damaged-zip", "serve-port"],
)
def test_the_installed_command_prints_one_line(bad_env: Path, args: list[str], words: str) -> None:
    """The same through the console script in a real process (stderr, exit code)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "modelmedic"), *(a.format(tmp=bad_env) for a in args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and result.stdout == ""
    assert words in one_line(result.stderr)
