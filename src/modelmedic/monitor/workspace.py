"""A monitoring job's windows as evidently snapshots in a local evidently workspace.

``modelmedic monitor --evidently-workspace PATH`` calls :func:`export_monitor_to_workspace`
after the job, so ``evidently ui --workspace PATH`` shows the same history as the
dashboard: one project per monitored model (``<model name> monitoring``) holding one
snapshot per window (timestamped at the window's start, named after it, tagged with its
verdict) and a project dashboard with the dataset drift share, the drifted features per
window, the MAE, the target and prediction drift and every feature's drift score.

Each snapshot is a real evidently ``Report`` run on the window against the reference with
the job's drift options (same tests and thresholds), so opening a snapshot in the UI shows
evidently's own drift tables and plots. The project mirrors the latest export: its earlier
snapshots are replaced (a job covers the whole history anyway).

evidently takes seconds to import, so it is imported inside the functions only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.config import Settings, get_settings
from modelmedic.drift.evidently_engine import evidently_dataset, evidently_test_id
from modelmedic.errors import DataError
from modelmedic.extras import require
from modelmedic.monitor.runs import experiment_name
from modelmedic.windows import select_period

if TYPE_CHECKING:
    from modelmedic.drift.base import DriftOptions
    from modelmedic.monitor.results import MonitorResult, WindowResult

PANEL_TITLES = (
    "Share of drifted features (latest window)",
    "Dataset drift share per window",
    "Drifted features per window",
    "MAE per window",
    "Target and prediction drift",
    "Feature drift scores",
)


@dataclass(frozen=True)
class WorkspaceExport:
    """Where a job landed in the evidently workspace."""

    path: Path
    project_id: str
    project_name: str
    snapshots: int
    skipped: int


def project_name(settings: Settings, model_uri: str) -> str:
    """The workspace project of a monitored model: ``<registered name> monitoring``."""
    return experiment_name(settings, model_uri).removesuffix("-monitor") + " monitoring"


def _metric(name: str, legend: str, **labels: str) -> Any:
    # lazy: evidently takes seconds to import; loaded only for its reports and snapshots
    from evidently.sdk.models import PanelMetric

    return PanelMetric(legend=legend, metric=f"evidently:metric_v2:{name}", metric_labels=labels)


def dashboard_panels(features: list[str], target: str | None, prediction: str) -> list[Any]:
    """The project dashboard's panels (titles in :data:`PANEL_TITLES`, in that order)."""
    # lazy: evidently takes seconds to import; loaded only for its reports and snapshots
    from evidently.sdk.panels import bar_plot_panel, counter_panel, line_plot_panel

    outputs = [c for c in (target, prediction) if c]
    return [
        counter_panel(PANEL_TITLES[0], [_metric("DriftedColumnsCount", "share", value_type="share")],
                      size="half", aggregation="last"),
        line_plot_panel(PANEL_TITLES[1], [_metric("DriftedColumnsCount", "drift share", value_type="share")],
                        description="Share of drifted features; the data set drifts from the job's drift share",
                        size="half"),
        bar_plot_panel(PANEL_TITLES[2], [_metric("DriftedColumnsCount", "drifted features", value_type="count")],
                       size="half"),
        line_plot_panel(PANEL_TITLES[3], [_metric("MAE", "MAE", value_type="mean")],
                        description="Mean absolute error of the labelled rows", size="half"),
        line_plot_panel(PANEL_TITLES[4], [_metric("ValueDrift", c, column=c) for c in outputs],
                        description="Drift score of the target and of the model's predictions", size="full"),
        line_plot_panel(PANEL_TITLES[5], [_metric("ValueDrift", c, column=c) for c in features],
                        description="p-values drift when low, distances when high", size="full"),
    ]  # fmt: skip


def window_report(
    window: WindowResult,
    options: DriftOptions,
    features: list[str],
    target: str | None,
    prediction: str,
) -> Any:
    """The evidently ``Report`` of one window: feature drift (``DataDriftPreset`` with the
    job's tests and thresholds), target and prediction drift, and with labels MAE and RMSE.

    Only the features the job could test in this window are included.
    """
    # lazy: evidently takes seconds to import; loaded only for its reports and snapshots
    from evidently import Report
    from evidently.metrics import MAE, RMSE, RowCount, ValueDrift
    from evidently.presets import DataDriftPreset

    def method(column: str) -> str | None:
        test = options.column_stattest(column)
        return None if test is None else evidently_test_id(test)

    tested = [c for c in features if window.drift is not None and window.drift.columns[c].ok]
    methods = {c: m for c in tested if (m := method(c))}
    thresholds = {c: t for c in tested if (t := options.column_threshold(c)) is not None}
    items: list[Any] = [
        RowCount(),
        DataDriftPreset(columns=tested, drift_share=options.drift_share,
                        per_column_method=methods or None, per_column_threshold=thresholds or None),
    ]  # fmt: skip
    drifts = {target: window.target_drift, prediction: window.prediction_drift}
    for column, drift in drifts.items():
        if column and drift is not None and drift.ok:
            items.append(ValueDrift(column=column, method=method(column), threshold=options.column_threshold(column)))
    if target and window.performance:
        items += [MAE(), RMSE()]
    return Report(items)


def export_monitor_to_workspace(
    path: str | Path,
    result: MonitorResult,
    *,
    settings: Settings | None = None,
    advance: Callable[[], None] | None = None,
) -> WorkspaceExport:
    """Write each window of a monitoring job as a snapshot in the evidently workspace ``path``.

    The snapshots use the job's own data, predictions and drift options (kept on ``result``),
    so the model is neither loaded nor run again.

    Args:
        path: The workspace folder (created when missing); open it with
            ``evidently ui --workspace PATH``.
        result: The job (:func:`modelmedic.monitor.run`).
        settings: Settings naming the monitored model's registry (for the project name).
        advance: Called after each window.

    Returns:
        A :class:`WorkspaceExport`; windows without drift results (insufficient data) are
        skipped and counted.

    Raises:
        DataError: when ``result`` does not hold the job's config, schema and data, or the
            reference period holds no rows.
        ConfigError: for a test or threshold the columns cannot take.
        DriftError: when evidently fails on a window.
    """
    Workspace = require("evidently.ui.workspace", purpose="evidently (workspace export)").Workspace

    settings = settings or get_settings()
    config, schema, data = result.config, result.schema, result.data
    if schema is None or data is None:
        raise DataError("this monitoring result does not hold its job's data: export the result of monitor.run")
    reference = select_period(data, result.reference_start, result.reference_end)  # raises when empty
    labelled = schema.target in data.columns and data[schema.target].notna().any()
    target = schema.target if labelled else None
    outputs = [c for c in (target, schema.prediction) if c]
    _, options = config.drift_options(schema, outputs)
    features = result.features or list(schema.features)
    columns = list(dict.fromkeys([*options.columns, *outputs]))
    reference_set = evidently_dataset(reference[columns], options, target, schema.prediction)

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    workspace = Workspace.create(str(path))
    name = project_name(settings, result.model_uri)
    project = next(iter(workspace.search_project(name)), None) or workspace.create_project(name)
    project.description = (
        f"modelmedic monitoring of {result.model_uri} (version {result.model_version or 'unknown'}) against the "
        f"reference {result.reference_start}..{result.reference_end}; one snapshot per window"
    )
    project.save()
    for snapshot_id in workspace.list_runs(project.id):
        workspace.delete_run(project.id, snapshot_id)
    project.dashboard.clear_dashboard()
    for panel in dashboard_panels(features, target, schema.prediction):
        project.dashboard.add_panel(panel)

    written = skipped = 0
    for window in result.windows:
        if window.drift is None:
            skipped += 1
        else:
            current = window.window.slice(data)[columns]
            report = window_report(window, options, features, target, schema.prediction)
            with warnings.catch_warnings():  # evidently's statistics on constant columns
                warnings.simplefilter("ignore", RuntimeWarning)
                snapshot = report.run(
                    evidently_dataset(current, options, target, schema.prediction), reference_set,
                    timestamp=window.window.begin.to_pydatetime(), name=window.window.label,
                    tags=["modelmedic", *window.verdict.split(", ")],
                    metadata={"window": window.window.label, "model_version": result.model_version or "",
                              "verdict": window.verdict},
                )  # fmt: skip
            workspace.add_run(project.id, snapshot)
            written += 1
        if advance:
            advance()
    return WorkspaceExport(path, str(project.id), name, written, skipped)
