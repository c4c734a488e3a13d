"""A monitoring job exported to an evidently workspace, read back through evidently's own API."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from modelmedic.config import Settings
from modelmedic.monitor.workspace import PANEL_TITLES, export_monitor_to_workspace
from servers import CLEARED_ENV, free_port

WEEKS = 3


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, bike, bike_schema) -> dict[str, Any]:
    """Three weekly windows and a 10-hour one (insufficient data), monitored and exported."""
    from modelmedic import monitor
    from modelmedic.model import train
    from modelmedic.windows import Window, select_period, windows_after

    root = tmp_path_factory.mktemp("workspace")
    with pytest.MonkeyPatch.context() as patch:
        for var in CLEARED_ENV:
            patch.delenv(var, raising=False)
        settings = Settings(home=root / "home")
    model = train(select_period(bike, "2011-01-01", "2011-01-28"), bike_schema, "rf", seed=1)
    weeks = windows_after(bike.loc[:"2011-02-18"], settings.reference_end, "1W")
    short = Window(WEEKS, weeks[-1].end, weeks[-1].end + pd.Timedelta(hours=10))
    result = monitor.run(bike, bike_schema, model, settings, windows=[*weeks, short], html="none", track=False)
    path = root / "evidently"
    ticks: list[int] = []
    export = export_monitor_to_workspace(path, result, settings=settings, advance=lambda: ticks.append(1))
    return {"path": path, "result": result, "export": export, "ticks": ticks, "settings": settings, "model": model}


def series(path: Path, project_id: Any, panel: Any) -> dict[str, list[float | None]]:
    """What evidently's UI plots in ``panel``: its series by label (column or value type)."""
    from evidently.ui.service.base import SeriesFilter
    from evidently.ui.service.storage.local.base import InMemoryDataStorage

    filters = [
        SeriesFilter(tags=v.tags, metadata=v.metadata, metric=v.metric, metric_labels=v.metric_labels)
        for v in panel.values
    ]
    found = asyncio.run(InMemoryDataStorage(str(path)).get_data_series(project_id, filters, None, None))
    return {s.params.get("column") or s.params.get("value_type"): s.values for s in found.series}


def test_one_project_with_a_snapshot_per_window(job: dict[str, Any]) -> None:
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(job["path"]))
    [project] = workspace.list_projects()
    runs = workspace.list_runs(project.id)

    assert project.name == "bike-demand monitoring" == job["export"].project_name
    assert len(runs) == WEEKS == job["export"].snapshots
    assert job["export"].skipped == 1 and len(job["ticks"]) == WEEKS + 1
    snapshots = sorted((workspace.get_run(project.id, r) for r in runs), key=lambda s: s.timestamp)
    weeks = [w for w in job["result"].windows if w.drift is not None]
    assert [s.name for s in snapshots] == [w.window.label for w in weeks]
    assert [pd.Timestamp(s.timestamp) for s in snapshots] == [w.window.begin for w in weeks]
    assert [s.metadata["verdict"] for s in snapshots] == [w.verdict for w in weeks]
    assert all("modelmedic" in s.tags for s in snapshots)


def test_project_dashboard_has_the_monitoring_panels(job: dict[str, Any]) -> None:
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(job["path"]))
    [project] = workspace.list_projects()
    dashboard = workspace.get_dashboard(project.id)

    assert [p.title for p in dashboard.panels] == list(PANEL_TITLES)
    assert [p.plot_params["plot_type"] for p in dashboard.panels] == ["counter", "line", "bar", "line", "line", "line"]


def test_panels_plot_the_same_history_as_modelmedic(job: dict[str, Any], bike_schema) -> None:
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(job["path"]))
    [project] = workspace.list_projects()
    panels = {p.title: p for p in workspace.get_dashboard(project.id).panels}
    weeks = [w for w in job["result"].windows if w.drift is not None]

    shares = series(job["path"], project.id, panels["Dataset drift share per window"])["share"]
    counts = series(job["path"], project.id, panels["Drifted features per window"])["count"]
    mae = series(job["path"], project.id, panels["MAE per window"])["mean"]
    outputs = series(job["path"], project.id, panels["Target and prediction drift"])
    features = series(job["path"], project.id, panels["Feature drift scores"])

    assert shares == pytest.approx([w.drift_share for w in weeks])
    assert counts == [w.drift.n_drifted for w in weeks]
    assert mae == pytest.approx([w.performance["mae"] for w in weeks], rel=1e-9)
    assert outputs["cnt"] == pytest.approx([w.target_drift.score for w in weeks], rel=1e-6, abs=1e-12)
    assert outputs["prediction"] == pytest.approx([w.prediction_drift.score for w in weeks], rel=1e-6, abs=1e-12)
    assert set(features) == set(bike_schema.features)
    for column, values in features.items():
        assert values == pytest.approx([w.drift.columns[column].score for w in weeks], rel=1e-6, abs=1e-12), column


def test_exporting_again_replaces_the_snapshots(job: dict[str, Any], bike, bike_schema, tmp_path: Path) -> None:
    from evidently.ui.workspace import Workspace

    path = tmp_path / "again"
    for _ in range(2):
        export = export_monitor_to_workspace(path, job["result"], settings=job["settings"])
    workspace = Workspace(str(path))
    [project] = workspace.list_projects()

    assert str(project.id) == export.project_id
    assert len(workspace.list_runs(project.id)) == WEEKS
    assert len(workspace.get_dashboard(project.id).panels) == len(PANEL_TITLES)


@pytest.mark.slow
def test_evidently_ui_serves_the_workspace(job: dict[str, Any], http_process: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(Path(sys.executable).parent / "evidently"), "ui", "--workspace", str(job["path"]),
               "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]]  # fmt: skip

    with http_process(command, f"{url}/api/projects"):
        [project] = httpx.get(f"{url}/api/projects", timeout=30).json()
        snapshots = httpx.get(f"{url}/api/projects/{project['id']}/snapshots", timeout=30).json()
        dashboard = httpx.get(f"{url}/api/v2/dashboards/{project['id']}", timeout=30).json()

    assert project["name"] == "bike-demand monitoring"
    assert sorted(s["name"] for s in snapshots) == sorted(
        w.window.label for w in job["result"].windows if w.drift is not None
    )
    assert [p["title"] for p in dashboard["panels"]] == list(PANEL_TITLES)


@pytest.mark.slow
def test_monitor_command_writes_the_workspace(trained, settings: Settings, tmp_path: Path) -> None:
    from evidently.ui.workspace import Workspace
    from typer.testing import CliRunner

    from modelmedic.cli import app

    batches = tmp_path / "batches.csv"
    batches.write_text("begin,end\n2011-01-29,2011-02-04\n2011-02-05,2011-02-11\n")
    path = tmp_path / "evidently"

    outcome = CliRunner().invoke(
        app, ["monitor", "--batches", str(batches), "--html", "none", "--evidently-workspace", str(path)]
    )

    assert outcome.exit_code == 0, outcome.output
    assert "evidently ui --workspace" in outcome.output
    [project] = Workspace(str(path)).list_projects()
    assert len(Workspace(str(path)).list_runs(project.id)) == 2
