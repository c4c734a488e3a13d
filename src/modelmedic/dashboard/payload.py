"""Everything the dashboard page shows, gathered into one JSON-ready dict.

:func:`dashboard_data` reads only local results and the MLflow store:

- ``monitor``: the latest ``modelmedic monitor`` job (its ``summary.json``, see
  :mod:`modelmedic.monitor`), reshaped per window (drift share, target and prediction
  drift, MAE, worst segments, links to the evidently report and the MLflow run) plus a
  features x windows drift matrix;
- ``backtest``: the latest ``modelmedic backtest`` result (``backtest.json``), as written;
- ``model``: the champion's model card and ``retrains``: the retrain decisions
  (:mod:`modelmedic.dashboard.model_card`);
- ``live``: the prediction service's traffic, when the caller passes it.

A missing or unreadable part is ``None`` with a ``problems`` entry saying which command
produces it; nothing here raises for missing or damaged results.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelmedic.config import Settings
from modelmedic.dashboard.model_card import mlflow_run_url, model_card, retrain_decisions
from modelmedic.drift.base import STATTESTS
from modelmedic.tracking import registry_ref

REPORTS_URL = "/dashboard/reports"
STRENGTH_LIMIT = 10.0  # drift strengths beyond +-10 (p-values below 1e-12...) look alike


def drift_strength(stattest: str | None, score: float | None, threshold: float | None) -> float | None:
    """How far a drift score lies past its threshold, on a log10 scale (0: at the threshold).

    Positive means drift whatever the test: for p-value tests ``log10(threshold / p)``,
    for distance tests ``log10(score / threshold)``; clipped to +-:data:`STRENGTH_LIMIT`.

    Returns:
        The strength, or ``None`` when the column was not tested.
    """
    if score is None or threshold is None or not math.isfinite(score) or threshold <= 0:
        return None
    test = STATTESTS.get(stattest or "")
    tiny = 1e-300  # a p-value of 0 or a distance of 0: clipped below
    if test is not None and test.kind == "distance":
        value = math.log10(max(score, tiny) / threshold)
    else:
        value = math.log10(threshold / max(score, tiny))
    return max(-STRENGTH_LIMIT, min(STRENGTH_LIMIT, value))


def latest_monitor_folder(settings: Settings) -> Path | None:
    """The folder of the latest monitoring job, or ``None`` when none has run."""
    # lazy: modelmedic.monitor.reports imports numpy
    from modelmedic.monitor.reports import latest_folder

    return latest_folder(settings.monitor_reports_dir)


def report_path(settings: Settings, folder: str, name: str) -> Path | None:
    """The evidently report ``windows/<name>`` of monitor job ``folder``, if it exists.

    Only plain names (``window-003.html``) inside a job folder are served: anything else,
    like ``..`` or a path, gives ``None``.
    """
    if not re.fullmatch(r"[0-9A-Za-z_.-]+", folder) or folder.startswith("."):
        return None
    if not re.fullmatch(r"window-\d+\.html", name):
        return None
    path = settings.monitor_reports_dir / folder / "windows" / name
    return path if path.is_file() else None


def _column(column: dict[str, Any] | None) -> dict[str, Any] | None:
    if not column:
        return None
    return {
        "score": column.get("score"),
        "stattest": column.get("stattest"),
        "threshold": column.get("threshold"),
        "drifted": column.get("drifted"),
        "strength": drift_strength(column.get("stattest"), column.get("score"), column.get("threshold")),
        "note": column.get("error"),
    }


def monitor_section(summary: dict[str, Any], folder: str, mlflow_ui: str) -> dict[str, Any]:
    """Reshape a monitor ``summary.json`` for the page.

    Args:
        summary: The job's summary (:meth:`~modelmedic.monitor.results.MonitorResult.to_dict`).
        folder: The job folder's name (report links go through :data:`REPORTS_URL`).
        mlflow_ui: The MLflow UI base address, for run links.

    Returns:
        ``folder``, ``engine``, ``drift_share`` (the dataset threshold), ``reference``,
        ``features``, ``summary_run_url``, ``windows`` (one dict per window) and ``matrix``
        (``strength``/``score``/``drifted``/``stattest``: lists per feature, one item per
        window).
    """
    features = list(summary.get("features") or [])
    experiment = (summary.get("mlflow") or {}).get("experiment_id")
    windows, matrix = [], {key: [[] for _ in features] for key in ("strength", "score", "drifted", "stattest")}
    for w in summary.get("windows", []):
        drift = w.get("drift") or {}
        dataset, columns = drift.get("dataset") or {}, drift.get("columns") or {}
        perf = w.get("performance") or {}
        html = w.get("html")
        windows.append(
            {
                "index": w["index"],
                "label": w["label"],
                "begin": w["begin"],
                "end": w["end"],
                "rows": w.get("rows"),
                "labelled_rows": w.get("labelled_rows"),
                "status": w.get("status"),
                "verdict": w.get("verdict"),
                "drift_share": dataset.get("share"),
                "drifted_columns": dataset.get("drifted_columns"),
                "tested_columns": dataset.get("columns"),
                "dataset_drifted": dataset.get("drifted"),
                "drifted_features": [c for c, v in columns.items() if v.get("drifted")],
                "target": _column(w.get("target_drift")),
                "prediction": _column(w.get("prediction_drift")),
                "mae": perf.get("mae"),
                "rmse": perf.get("rmse"),
                "bias": perf.get("bias"),
                "mae_ratio": perf.get("mae_ratio"),
                "segments": w.get("worst_segments") or [],
                "report_url": f"{REPORTS_URL}/{folder}/{Path(html).name}" if html else None,
                "run_url": mlflow_run_url(mlflow_ui, experiment, w.get("run_id")),
            }
        )
        for i, feature in enumerate(features):
            cell = _column(columns.get(feature)) or {}
            for key in matrix:
                matrix[key][i].append(cell.get(key))
    reference = summary.get("reference") or {}
    return {
        "folder": folder,
        "engine": summary.get("engine"),
        "drift_share": summary.get("drift_share"),
        "model": summary.get("model"),
        "reference": {
            "start": reference.get("start"),
            "end": reference.get("end"),
            "rows": reference.get("rows"),
            "mae": (reference.get("error") or {}).get("mae"),
            "error_source": reference.get("error_source"),
        },
        "features": features,
        "summary_run_url": mlflow_run_url(mlflow_ui, experiment, (summary.get("mlflow") or {}).get("summary_run_id")),
        "windows": windows,
        "matrix": matrix,
    }


def read_monitor(settings: Settings, mlflow_ui: str) -> dict[str, Any] | None:
    """The latest monitoring job for the page (:func:`monitor_section`), or ``None``."""
    folder = latest_monitor_folder(settings)
    if folder is None or not (folder / "summary.json").is_file():
        return None
    summary = json.loads((folder / "summary.json").read_text("utf-8"))
    return monitor_section(summary, folder.name, mlflow_ui)


def read_backtest(settings: Settings) -> dict[str, Any] | None:
    """The latest backtest's ``backtest.json`` as written by ``modelmedic backtest``, or ``None``."""
    path = settings.backtest_reports_dir / "backtest.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text("utf-8"))


def _results(
    read: Callable[[], dict[str, Any] | None], what: str, command: str, problems: list[str]
) -> dict[str, Any] | None:
    """``read()``, or ``None`` with an entry in ``problems`` naming the command that makes the results."""
    try:
        found = read()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # a damaged or half-written file
        problems.append(f"the latest {what} results cannot be read ({exc!r}): run '{command}' again")
        return None
    if found is None:
        problems.append(f"no {what} results yet: run '{command}'")
    return found


def served_mismatch(model: dict[str, Any] | None, served: dict[str, Any] | None) -> str | None:
    """A sentence when the service answers with another registered version than the
    champion's (e.g. after a promotion, before the service reloads), else ``None``."""
    ref = registry_ref(served["uri"]) if served else None
    if model is None or served is None or ref is None or ref.name != model["name"]:
        return None
    if str(served["version"]) == model["version"] or (ref.alias and ref.alias != model["alias"]):
        return None
    sentence = f"the service answers with {ref.name} version {served['version']} ({served['uri']}), "
    if ref.alias:
        return sentence + f"but '{ref.alias}' is now version {model['version']}: POST /admin/reload loads it"
    return sentence + f"pinned by its URI; the champion is version {model['version']}"


def dashboard_data(
    settings: Settings,
    *,
    mlflow_ui: str | None = None,
    live: dict[str, Any] | None = None,
    served: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the dashboard shows, from the local results and the MLflow store.

    Args:
        settings: Names the reports folder and the MLflow store.
        mlflow_ui: Base address of the MLflow UI, for run links (default:
            ``settings.mlflow_ui_url``).
        live: The live-traffic section (:func:`modelmedic.service.live_traffic.live_traffic`)
            when served with a prediction log.
        served: ``uri``, ``version`` and ``loaded_at`` of the model the prediction service
            answers with, when the page is served by it.

    Returns:
        A JSON-ready dict: ``generated``, ``mlflow_ui``, ``model``, ``retrains``,
        ``monitor``, ``backtest``, ``live``, ``served`` and ``problems`` (what is missing
        and which command makes it; a service answering with another version than the
        champion's).
    """
    mlflow_ui = mlflow_ui or settings.mlflow_ui_url
    problems: list[str] = []
    model, problem = model_card(settings, mlflow_ui)
    if problem:
        problems.append(problem)
    retrains = retrain_decisions(settings, mlflow_ui)
    monitor = _results(lambda: read_monitor(settings, mlflow_ui), "monitoring", "modelmedic monitor", problems)
    backtest = _results(lambda: read_backtest(settings), "backtest", "modelmedic backtest", problems)
    stale = served_mismatch(model, served)
    if stale:
        problems.append(stale)
    body = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "mlflow_ui": mlflow_ui,
        "model": model,
        "retrains": retrains,
        "monitor": monitor,
        "backtest": backtest,
        "live": live,
        "served": served,
        "problems": problems,
    }
    # NaN and infinities are not JSON (browsers refuse them): they become null
    return json.loads(json.dumps(body, default=str), parse_constant=lambda _: None)
