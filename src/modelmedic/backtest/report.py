"""The backtest's outputs: a JSON document, pictures (HTML and PNG) and MLflow runs.

``modelmedic backtest`` writes to ``<reports_dir>/backtest/latest/`` (the dashboard reads
it) and logs the same files to MLflow:

* ``backtest.json``, also what ``--json`` prints::

    {
      "version": 1,
      "created": "2024-05-01T12:00:00+00:00",
      "config": {"reference_start", "reference_end", "window", "label_delay", "kind",
                 "params", "drift_engine", "workers", "retrain_cost", "retrain_cost_source",
                 "objective": "mae + retrain_cost * retrains / windows"},
      "seconds": 41.2,                       # wall time of the replay
      "evaluated_rows": 16709,
      "reference_mae": 134.0,                # MAE of never retraining
      "windows": [{"index": 0, "begin": "2011-01-29T00:00:00", "end": "...", "label": "..."}],
      "strategies": [                        # ranked by objective, best first
        {"name": "periodic:4W+recency:4W", "rank": 1, "mae": 38.4, "rmse": 62.1,
         "retrains": 25, "train_seconds": 3.6, "objective": 39.7, "gap_to_best": 4.5,
         "pareto": true, "recommended": true,
         "cost": 25,                         # the Pareto chart's x axis: retrains
         "window_mae": [...], "window_rmse": [...], "window_rows": [...],   # one per window
         "retrain_points": [{"window": 4, "at": "2011-02-26T00:00:00", "reason": "...",
                             "rows": 4700, "train_seconds": 0.15}]}
      ],
      "pareto": ["never", "periodic:13W", ...],    # the front, by number of retrains
      "cost_label": "retrains",
      "recommendation": {"name": "periodic:4W+recency:4W", "why": "one paragraph",
                         "strategy": "(= name)", "text": "(= why)"},
      "search": {...}    # only with --search: SearchResult.to_dict() (front with regrets,
                         # hindsight limit per number of retrains, budgets, recommendation)
    }

* ``backtest.html``: both charts, interactive (plotly, plotly.js embedded: works offline);
* ``errors.png``: MAE per window of the best strategies and ``never``, retrains marked;
* ``pareto.png``: MAE vs retrains of every strategy, the Pareto front joined.

In MLflow a parent run (experiment ``<experiment>-backtest``) holds the configuration,
the recommendation and the files; one nested run per strategy holds its totals and its
per-window ``window/mae``, ``window/rmse`` and ``window/retrain`` series (step = window
index, timestamp = window start).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic import tracking
from modelmedic.backtest.charts import backtest_figures, write_html, write_pngs
from modelmedic.backtest.engine import BacktestResult
from modelmedic.backtest.ranking import Ranking

if TYPE_CHECKING:
    from modelmedic.config import Settings

FORMAT_VERSION = 1


def _num(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def backtest_document(result: BacktestResult, ranking: Ranking) -> dict[str, Any]:
    """The JSON document described in the module docstring."""
    config = result.config
    strategies = [
        {
            "name": row.name,
            "rank": row.rank,
            "mae": _num(row.run.mae),
            "rmse": _num(row.run.rmse),
            "retrains": row.run.retrains,
            "train_seconds": _num(row.run.train_seconds),
            "objective": _num(row.objective),
            "gap_to_best": _num(row.gap_to_best),
            "pareto": row.pareto,
            "recommended": row is ranking.best,
            "cost": row.run.retrains,
            "window_mae": [_num(v) for v in row.run.window_mae],
            "window_rmse": [_num(v) for v in row.run.window_rmse],
            "window_rows": row.run.window_rows,
            "retrain_points": [p.to_dict() for p in row.run.retrain_points],
        }
        for row in ranking.rows
    ]
    return {
        "version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "reference_start": config.reference_start,
            "reference_end": config.reference_end,
            "window": config.window,
            "label_delay": config.label_delay,
            "kind": config.kind,
            "params": config.estimator_params,
            "drift_engine": config.drift_engine,
            "workers": config.workers,
            "retrain_cost": _num(ranking.retrain_cost),
            "retrain_cost_source": ranking.cost_source,
            "objective": "mae + retrain_cost * retrains / windows",
        },
        "seconds": _num(result.seconds, 2),
        "evaluated_rows": result.evaluated_rows,
        "reference_mae": _num(result.reference_mae),
        "windows": [
            {"index": w.index, "begin": w.begin.isoformat(), "end": w.end.isoformat(), "label": w.label}
            for w in result.windows
        ],
        "strategies": strategies,
        "pareto": [r.name for r in ranking.pareto],
        "cost_label": "retrains",
        "recommendation": {
            "name": ranking.recommendation,
            "why": ranking.why,
            "strategy": ranking.recommendation,
            "text": ranking.why,
        },
    }


def write_reports(
    result: BacktestResult, ranking: Ranking, folder: Path, document: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``backtest.json``, ``backtest.html``, ``errors.png`` and ``pareto.png`` to ``folder``.

    Args:
        result: The backtest.
        ranking: Its ranking.
        folder: Where to write (created if needed; files of an earlier run are replaced).
        document: The JSON document (default: :func:`backtest_document`).

    Returns:
        The files written, by name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "backtest.json"
    path.write_text(json.dumps(document or backtest_document(result, ranking), indent=1), encoding="utf-8")
    html = write_html(backtest_figures(result, ranking), folder / "backtest.html", "modelmedic backtest")
    errors, pareto = write_pngs(result, ranking, folder)
    return {"json": path, "html": html, "errors_png": errors, "pareto_png": pareto}


def log_backtest(result: BacktestResult, ranking: Ranking, files: dict[str, Path], settings: Settings) -> str:
    """Log the backtest to MLflow: a parent run and a nested run per strategy.

    Returns:
        The parent run's id.

    Raises:
        TrackingError: when the MLflow store cannot be reached.
    """
    config = result.config
    client = tracking.client(settings)
    experiment = tracking.experiment_id(f"{settings.experiment}-backtest", settings)
    parent = client.create_run(experiment, run_name="backtest", tags={"modelmedic.role": "backtest"})
    parent_id = parent.info.run_id
    params = {
        "reference_start": config.reference_start,
        "reference_end": config.reference_end,
        "window": config.window,
        "label_delay": config.label_delay,
        "model_kind": config.kind,
        "drift_engine": config.drift_engine,
        "workers": config.workers,
        "strategies": len(ranking.rows),
        "retrain_cost": round(ranking.retrain_cost, 4),
        "retrain_cost_source": ranking.cost_source,
        **{f"estimator.{k}": v for k, v in config.estimator_params.items()},
    }
    metrics = {
        "seconds": result.seconds,
        "reference_mae": result.reference_mae,
        "windows": len(result.windows),
        "best/mae": ranking.best.run.mae,
        "best/objective": ranking.best.objective,
    }
    try:
        tracking.log_values(
            client,
            parent_id,
            metrics,
            params,
            {"modelmedic.recommendation": ranking.recommendation, "modelmedic.why": ranking.why[:5000]},
        )
        for row in ranking.rows:
            _log_strategy(client, experiment, parent_id, result, row)
        for path in files.values():
            client.log_artifact(parent_id, str(path))
    except BaseException:
        client.set_terminated(parent_id, status="FAILED")
        raise
    client.set_terminated(parent_id)
    return parent_id


def _log_strategy(client: Any, experiment: str, parent_id: str, result: BacktestResult, row: Any) -> None:
    """A nested run with the strategy's totals and per-window series."""
    run = row.run
    child = client.create_run(
        experiment,
        run_name=row.name,
        tags={"mlflow.parentRunId": parent_id, "modelmedic.role": "backtest-strategy", "modelmedic.strategy": row.name},
    )
    retrained = {p.window for p in run.retrain_points}
    series: list[tuple[int, int | None, dict[str, float]]] = [
        (
            w.index,
            int(w.begin.timestamp() * 1000),
            {
                "window/mae": run.window_mae[w.index],
                "window/rmse": run.window_rmse[w.index],
                "window/retrain": float(w.index in retrained),
            },
        )
        for w in result.windows
    ]
    series.append(
        (
            0,
            None,
            {
                "mae": run.mae,
                "rmse": run.rmse,
                "retrains": run.retrains,
                "train_seconds": run.train_seconds,
                "objective": row.objective,
                "gap_to_best": row.gap_to_best,
                "rank": row.rank,
                "pareto": float(row.pareto),
            },
        )
    )
    tracking.log_series(client, child.info.run_id, series, params={"strategy": row.name})
    client.set_terminated(child.info.run_id)
