"""The monitor's pictures and files, drawn from a tidy table of known results."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from modelmedic.drift.base import ColumnDrift, DriftResult
from modelmedic.monitor.reports import (
    PICTURES,
    dataset_series,
    drift_matrix,
    latest_folder,
    plotly_figures,
    point_latest,
    write_pictures,
    write_summary,
    write_tables,
)
from modelmedic.monitor.results import INSUFFICIENT, OK, TABLE_COLUMNS, MonitorConfig, MonitorResult, WindowResult
from modelmedic.quality import QualityResult
from modelmedic.windows import make_windows

FEATURES = ["temp", "hum", "season", "weathersit"]
# (window, feature) -> drifted; the third window is too small to test
FLAGS = {0: [True, False, False, False], 1: [True, True, True, False], 3: [False, False, False, False]}


def window_result(index: int, window) -> WindowResult:
    quality = QualityResult(168, dict.fromkeys(FEATURES, 0), {}, {})
    if index not in FLAGS:
        return WindowResult(window, 3, 3, INSUFFICIENT, quality, verdict=INSUFFICIENT)
    columns = {}
    for i, (name, drifted) in enumerate(zip(FEATURES, FLAGS[index], strict=True)):
        kind = "numerical" if i < 2 else "categorical"
        test = "ks" if kind == "numerical" else "chisquare"
        columns[name] = ColumnDrift(name, kind, test, 0.05, 0.001 * (i + 1) if drifted else 0.5, drifted)
    drift = DriftResult(columns, drift_share=0.5, reference_rows=600, current_rows=168, engine="fast")
    result = WindowResult(window, 168, 168, OK, quality, drift=drift, performance={"mae": 10.0 * (index + 1)})
    result.verdict = "drift" if drift.drifted else "ok"
    return result


@pytest.fixture
def result() -> MonitorResult:
    windows = make_windows("2011-01-29", "2011-02-26", "1W")
    return MonitorResult(
        [window_result(w.index, w) for w in windows],
        "models:/m@champion",
        "1",
        "2011-01-01",
        "2011-01-28",
        600,
        {"mae": 10.0},
        "test",
        MonitorConfig.of(engine="fast", drift_share=0.5, html="none"),
    )


def test_table_has_the_documented_columns(result) -> None:
    table = result.to_df()
    assert list(table.columns) == TABLE_COLUMNS
    assert table["window"].nunique() == 4
    assert set(table.loc[table["window"] == 2, "kind"]) == {"quality"}
    assert table["drifted"].dtype == "boolean"


def test_drift_matrix_is_features_by_windows(result) -> None:
    table = result.to_df()
    flags = drift_matrix(table, "drifted")
    assert list(flags.index) == FEATURES
    assert list(flags.columns) == [w.window.label for w in result.windows]
    assert flags.iloc[:, 0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert flags.iloc[:, 2].isna().all()  # the insufficient window: not tested, not "no drift"
    scores = drift_matrix(table)
    assert scores.iloc[0, 1] == pytest.approx(0.001)
    assert scores.iloc[3, 1] == pytest.approx(0.5)


def test_dataset_series(result) -> None:
    series = dataset_series(result.to_df())
    assert series["drifted_columns"].tolist()[:2] == [1.0, 3.0]
    assert series["share"].tolist()[1] == pytest.approx(0.75)
    assert series["drifted"].tolist()[:2] == [0.0, 1.0]
    assert math.isnan(series["drifted"].tolist()[2])
    assert series["threshold"].dropna().unique().tolist() == [0.5]


def test_plotly_figures_show_every_window_and_feature(result) -> None:
    figures = plotly_figures(result.to_df())
    assert set(figures) == set(PICTURES)
    heatmap = figures["drift_flags"].data[0]
    assert list(heatmap.y) == FEATURES
    assert len(heatmap.x) == 4
    assert len(figures["drift_share"].data[0].x) == 4
    assert list(figures["dataset_drift"].data[0].y)[:2] == [1.0, 3.0]


def test_write_pictures_makes_offline_html_and_png(result, tmp_path) -> None:
    written = write_pictures(result.to_df(), tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{n}.{e}" for n in PICTURES for e in ("html", "png"))
    for path in written:
        assert path.stat().st_size > 1000
    for name in PICTURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page = (tmp_path / f"{name}.html").read_text("utf-8")
        assert not re.search(r"<script[^>]+src=", page)  # plotly.js is embedded: works offline
        assert len(page) > 1_000_000
    assert "weathersit" in (tmp_path / "drift_flags.html").read_text("utf-8")


def test_png_size_follows_the_table(result, tmp_path) -> None:
    from PIL import Image

    write_pictures(result.to_df(), tmp_path, html=False)
    few = Image.open(tmp_path / "drift_flags.png").size
    table = result.to_df()
    more = pd.concat(
        [table] + [table.assign(window=table["window"] + 10 * k, label=table["label"] + f"#{k}") for k in range(1, 40)]
    )
    write_pictures(more, tmp_path / "more", html=False)
    assert Image.open(tmp_path / "more" / "drift_flags.png").size[0] > few[0]


def test_monitor_files_and_latest_pointer(result, tmp_path) -> None:
    folder = tmp_path / "monitor" / "20240101-000000"
    result.windows[0].performance["r2"] = float("nan")
    written = [*write_tables(result.to_df(), folder), write_summary(result, folder)]
    assert {p.name for p in written} >= {"results.parquet", "results.csv", "summary.json", "drift_flags.png"}
    table = pd.read_parquet(folder / "results.parquet")
    assert list(table.columns) == TABLE_COLUMNS
    assert len(table) == len(result.to_df())
    summary = json.loads((folder / "summary.json").read_text("utf-8"), parse_constant=pytest.fail)  # no NaN
    assert summary["windows"][0]["performance"]["r2"] is None
    assert [w["status"] for w in summary["windows"]] == [OK, OK, INSUFFICIENT, OK]
    assert summary["features"] == FEATURES
    assert latest_folder(tmp_path / "monitor") is None
    point_latest(tmp_path / "monitor", folder, "abc")
    assert latest_folder(tmp_path / "monitor") == folder
    assert json.loads((tmp_path / "monitor" / "latest.json").read_text())["summary_run_id"] == "abc"
