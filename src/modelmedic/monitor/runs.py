"""How a monitoring job lands in MLflow.

One experiment per monitored model (``<registered name>-monitor``). In it, one summary run
per job whose metrics are series over the windows (step = window index, timestamp = window
end), so MLflow's charts draw every feature's drift score, the drift share and the MAE over
time; under it (``mlflow.parentRunId``) one run per window, named after the window, with
params ``begin``/``end``, tags naming the model version and the reference period, and all
its metrics in one batched call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from modelmedic import tracking
from modelmedic.config import Settings
from modelmedic.secrets import masked
from modelmedic.tracking import registry_ref

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.monitor.results import MonitorResult


def experiment_name(settings: Settings, model_uri: str) -> str:
    """The MLflow experiment of a monitored model: ``<registered name>-monitor`` (the
    configured model name for URIs outside the registry)."""
    ref = registry_ref(model_uri)
    return f"{ref.name if ref else settings.model_name}-monitor"


def _ms(stamp: pd.Timestamp) -> int:
    return int(stamp.timestamp() * 1000)


def log_monitor(
    result: MonitorResult,
    settings: Settings,
    params: dict[str, object] | None = None,
    advance: Callable[[], None] | None = None,
) -> None:
    """Log ``result`` to MLflow: the summary run (left open for :func:`finish_summary_run`)
    and one child run per window. Sets ``result``'s MLflow ids and each window's ``run_id``.

    Args:
        result: The job's result.
        settings: Settings naming the tracking store.
        params: Extra params of the summary run (the job's options).
        advance: Called after each window's run.

    Raises:
        TrackingError: when the store cannot be reached.
    """
    client = tracking.client(settings)
    experiment = tracking.experiment_id(experiment_name(settings, result.model_uri), settings)
    first, last = result.windows[0].window, result.windows[-1].window
    common = {
        "modelmedic.model_uri": result.model_uri,
        "modelmedic.model_version": result.model_version or "",
        "modelmedic.reference": f"{result.reference_start}..{result.reference_end}",
        "modelmedic.engine": result.engine,
    }
    span = f"{first.label.split('..')[0]}..{last.label.split('..')[-1]}"
    summary = client.create_run(
        experiment,
        run_name=f"monitor {span}",
        tags={**common, "modelmedic.role": "monitor-summary"},
    )
    summary_id = summary.info.run_id
    result.tracking_uri = masked(settings.resolved_tracking_uri)
    result.experiment_id, result.summary_run_id = experiment, summary_id
    series: list[tuple[int, int, dict[str, float]]] = []
    for w in result.windows:
        tags = {
            **common,
            "mlflow.parentRunId": summary_id,
            "modelmedic.role": "monitor-window",
            "modelmedic.status": w.status,
            "modelmedic.verdict": w.verdict,
            "modelmedic.drifted_features": ", ".join(w.drift.drifted_columns if w.drift else []),
            "modelmedic.worst_segments": w.segment_summary(),
        }
        w.run_id = client.create_run(experiment, run_name=w.window.label, tags=tags).info.run_id
        window_params = {
            "begin": w.window.begin.isoformat(),
            "end": w.window.end.isoformat(),
            "window_index": w.window.index,
            "rows": w.rows,
        }
        step, stamp, metrics = w.window.index, _ms(w.window.end), w.metrics()
        series.append((step, stamp, metrics))  # the summary run's series, logged at the end
        tracking.log_values(client, w.run_id, metrics, window_params, step=step, timestamp_ms=stamp)
        if w.html and result.folder is not None:
            client.log_artifact(w.run_id, str(result.folder / w.html), "evidently")
        client.set_terminated(w.run_id)
        if advance:
            advance()
    summary_params = {
        "engine": result.engine,
        "drift_share": result.drift_share,
        "windows": len(result.windows),
        "html": result.html,
        "model_uri": result.model_uri,
        "reference_start": result.reference_start,
        "reference_end": result.reference_end,
        "reference_error_source": result.reference_error_source,
        **(params or {}),
    }
    reference = {f"reference/{k}": v for k, v in result.reference_error.items()}
    tracking.log_values(client, summary_id, reference, summary_params)
    tracking.log_series(client, summary_id, series)


def finish_summary_run(result: MonitorResult, settings: Settings) -> None:
    """Log the job's report files (not the per-window HTML) to the summary run and end it."""
    if result.summary_run_id is None or result.folder is None:
        return
    client = tracking.client(settings)
    for path in sorted(result.folder.iterdir()):
        if path.is_file():
            client.log_artifact(result.summary_run_id, str(path))
    client.set_terminated(result.summary_run_id)
