"""The champion's model card and the retrain decisions, read from the MLflow store.

The card says which registered version is the ``champion``, what it was trained on (the
training run's ``reference_start``/``reference_end`` params and ``train/*``/``eval/*``
metrics), when it became champion and why: the retrain decision that promoted it when
one exists, else the registry's own record (the version's creation, tags, description).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelmedic import tracking
from modelmedic.config import Settings
from modelmedic.errors import ModelmedicError, TrackingError
from modelmedic.retraining.decision import ROLE as RETRAIN_ROLE
from modelmedic.secrets import masked, masked_text

CARD_METRICS = ("mae", "rmse", "r2", "mape")


def mlflow_run_url(base: str, experiment_id: str | None, run_id: str | None) -> str | None:
    """The MLflow UI address of a run (``<base>/#/experiments/<id>/runs/<run>``), if known."""
    if not experiment_id or not run_id:
        return None
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _iso(ms: int | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def model_card(settings: Settings, mlflow_ui: str) -> tuple[dict[str, Any] | None, str | None]:
    """The champion's model card.

    Returns:
        ``(card, problem)``: the card (``name``, ``version``, ``run_id``, ``run_url``,
        ``created``, ``estimator``, ``kind``, ``training`` {start, end, rows}, ``metrics``
        {train, eval, baseline}: {mae, rmse, r2, mape}, ``tags``, ``description``,
        ``versions``: every registered version, newest first) or ``None`` with a
        sentence saying why there is none (no champion yet, store unreachable).
    """
    name = settings.model_name
    try:
        mlflow_client = tracking.client(settings)
        version = mlflow_client.get_model_version_by_alias(name, tracking.CHAMPION)
    except ModelmedicError:
        return None, f"no champion model '{name}' in the MLflow store: run 'modelmedic train'"
    except OSError as exc:
        return None, f"cannot read the MLflow store {masked(settings.resolved_tracking_uri)}: {masked_text(str(exc))}"
    try:
        run = mlflow_client.get_run(version.run_id) if version.run_id else None
    except TrackingError:  # the training run was purged: a card without its details
        run = None
    params = run.data.params if run else {}
    metrics = run.data.metrics if run else {}
    experiment = run.info.experiment_id if run else None
    card = {
        "name": name,
        "version": str(version.version),
        "alias": tracking.CHAMPION,
        "run_id": version.run_id,
        "run_url": mlflow_run_url(mlflow_ui, experiment, version.run_id),
        "created": _iso(version.creation_timestamp),
        "estimator": params.get("estimator"),
        "kind": params.get("model_kind"),
        "training": {
            "start": params.get("reference_start"),
            "end": params.get("reference_end"),
            "rows": int(params["rows_train"]) if params.get("rows_train", "").isdigit() else None,
        },
        "metrics": {
            part: {m: metrics[f"{part}/{m}"] for m in CARD_METRICS if f"{part}/{m}" in metrics}
            for part in ("train", "eval", "baseline")
        },
        "tags": dict(version.tags or {}),
        "description": version.description or "",
        "versions": _versions(mlflow_client, name),
    }
    return card, None


def _versions(mlflow_client: Any, name: str) -> list[dict[str, Any]]:
    found = mlflow_client.search_model_versions(f"name = '{name}'")
    aliases = mlflow_client.get_registered_model(name).aliases or {}  # search results lack them
    rows = [
        {
            "version": str(v.version),
            "created": _iso(v.creation_timestamp),
            "run_id": v.run_id,
            "aliases": sorted(a for a, version in aliases.items() if str(version) == str(v.version)),
            "tags": dict(v.tags or {}),
        }
        for v in found
    ]
    return sorted(rows, key=lambda v: int(v["version"]) if v["version"].isdigit() else 0, reverse=True)


def retrain_decisions(settings: Settings, mlflow_ui: str, limit: int = 50) -> list[dict[str, Any]]:
    """The latest retrain decisions logged to MLflow, newest first.

    A decision is a run tagged ``modelmedic.role`` = :data:`RETRAIN_ROLE`, in any experiment
    (see :mod:`modelmedic.retraining.decision`); its ``modelmedic.*`` tags and its params are passed
    through so the page can say what was decided, when and why.

    Returns:
        Up to ``limit`` dicts with ``run_id``, ``run_url``, ``name``, ``started``, ``status``,
        ``tags`` (the ``modelmedic.*`` tags without the prefix), ``params`` and ``metrics``;
        an empty list when there is none or the store cannot be read.
    """
    try:
        mlflow_client = tracking.client(settings)
        experiments = [e.experiment_id for e in mlflow_client.search_experiments()]
        if not experiments:
            return []
        runs = mlflow_client.search_runs(
            experiments,
            filter_string=f"tags.`modelmedic.role` = '{RETRAIN_ROLE}'",
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
    except (ModelmedicError, OSError):
        return []
    return [
        {
            "run_id": run.info.run_id,
            "run_url": mlflow_run_url(mlflow_ui, run.info.experiment_id, run.info.run_id),
            "name": run.info.run_name,
            "started": _iso(run.info.start_time),
            "status": run.info.status,
            "tags": {k.removeprefix("modelmedic."): v for k, v in run.data.tags.items() if k.startswith("modelmedic.")},
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
        }
        for run in runs
    ]
