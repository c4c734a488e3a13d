"""Experiments and runs: batched logging, datasets and artifacts of a run.

Logging goes through :func:`log_values` / :func:`log_series`, which send a run's values in
as few ``log_batch`` calls as MLflow's limits allow (call-by-call logging is an order of
magnitude slower, over HTTP even more).
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.config import Settings, get_settings, is_postgres
from modelmedic.errors import ModelNotFoundError
from modelmedic.secrets import masked, masked_text
from modelmedic.tracking.store import TrackingClient, client, configure, raise_if_unreachable, store_errors

if TYPE_CHECKING:
    import pandas as pd

# MLflow's limits for one log_batch call
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS, _MAX_ENTITIES = 1000, 100, 100, 1000
_KEY_BAD = re.compile(r"[^0-9A-Za-z_\-. /:]")


def metric_key(*parts: str) -> str:
    """Join ``parts`` with ``/`` into a valid MLflow key (other characters become ``_``)."""
    return "/".join(_KEY_BAD.sub("_", str(p)) for p in parts if p != "")


def experiment_id(name: str, settings: Settings | None = None) -> str:
    """Return the id of experiment ``name``, creating it if needed (safe to repeat).

    Experiments created in the default local store keep their artifacts in the home folder;
    in a PostgreSQL store (Heroku's ``DATABASE_URL``) they keep them in the same database
    (``modelmedic-db:/<name>``, see :mod:`modelmedic.tracking.artifacts_db`), so no dyno's
    disk holds them.

    Raises:
        TrackingError: when the store cannot be reached.
    """
    # lazy: MLflow's exception type, to tell a lost creation race from other refusals
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    mlflow_client = client(settings).mlflow_client
    with store_errors(settings):
        found = mlflow_client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                mlflow_client.restore_experiment(found.experiment_id)
            return found.experiment_id
        location = artifact_location(name, settings)
        try:
            return mlflow_client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process
            found = mlflow_client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id


def artifact_location(experiment: str, settings: Settings) -> str | None:
    """Where a new experiment keeps its artifacts: the home folder for the default store,
    the tracking database itself for a PostgreSQL store, MLflow's choice otherwise."""
    if settings.uses_default_store:
        return settings.artifact_root.as_uri()
    if is_postgres(settings.resolved_tracking_uri):
        # lazy: the artifact plugin subclasses MLflow's repository, so importing it imports mlflow
        from modelmedic.tracking.artifacts_db import experiment_location

        return experiment_location(experiment)
    return None


@contextmanager
def start_run(experiment: str, run_name: str, settings: Settings | None = None) -> Iterator[str]:
    """Start a run in ``experiment`` as MLflow's active run (the one :func:`log_model` and
    :func:`log_dataset` log to) and yield its id; the run ends ``FAILED`` when the block raises.

    Raises:
        TrackingError: when the store does not answer or refuses.
    """
    # lazy: mlflow takes about a second to import; commands that never reach a store skip it
    import mlflow

    settings = settings or get_settings()
    configure(settings)
    with store_errors(settings), mlflow.start_run(experiment_id=experiment, run_name=run_name) as run:
        yield run.info.run_id


def log_dataset(
    frame: pd.DataFrame, *, source: str, name: str, targets: str, context: str, settings: Settings | None = None
) -> None:
    """Log ``frame`` as an input dataset of the active run (its digest, schema and source).

    Raises:
        TrackingError: when the store does not answer or refuses.
    """
    # lazy: mlflow takes about a second to import; commands that never reach a store skip it
    import mlflow
    import mlflow.data

    with store_errors(settings), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MLflow guessing the source's kind
        dataset = mlflow.data.from_pandas(frame, source=source, name=name, targets=targets)
        mlflow.log_input(dataset, context=context)


def log_values(
    mlflow_client: TrackingClient,
    run_id: str,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    step: int = 0,
    timestamp_ms: int | None = None,
) -> None:
    """Log a run's metrics, params and tags in as few ``log_batch`` calls as possible.

    NaN and infinite metrics are skipped (MLflow stores them, but charts break on them).

    Raises:
        TrackingError: when the store does not answer or refuses.
    """
    series = [(step, timestamp_ms, metrics or {})]
    log_series(mlflow_client, run_id, series, params=params, tags=tags)


def log_series(
    mlflow_client: TrackingClient,
    run_id: str,
    series: Iterable[tuple[int, int | None, Mapping[str, float]]],
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> None:
    """Log metric series (``(step, timestamp_ms, {key: value})`` per point) in batches.

    Raises:
        TrackingError: when the store does not answer or refuses.
    """
    # lazy: MLflow's entities, with the client that sends them
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    metric_list = [
        Metric(key, float(value), ts if ts is not None else now, step)
        for step, ts, values in series
        for key, value in values.items()
        if value is not None and math.isfinite(float(value))
    ]
    param_list = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
    tag_list = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    while metric_list or param_list or tag_list:
        p, param_list = param_list[:_MAX_PARAMS], param_list[_MAX_PARAMS:]
        t, tag_list = tag_list[:_MAX_TAGS], tag_list[_MAX_TAGS:]
        room = min(_MAX_METRICS, _MAX_ENTITIES - len(p) - len(t))
        m, metric_list = metric_list[:room], metric_list[room:]
        mlflow_client.log_batch(run_id, metrics=m, params=p, tags=t)


def model_run_id(model_uri: str, settings: Settings | None = None) -> str | None:
    """The id of the run that logged the model at ``model_uri`` (any MLflow model URI or a
    local model folder); ``None`` for a model logged outside a run.

    Raises:
        ModelNotFoundError: when no model is found at ``model_uri``.
        TrackingError: when the store does not answer.
    """
    # lazy: MLflow's model metadata and exception type, with the store they are read from
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    settings = settings or get_settings()
    configure(settings)
    try:
        return Model.load(model_uri).run_id
    except (MlflowException, OSError) as exc:
        raise_if_unreachable(exc, settings)
        raise ModelNotFoundError(f"cannot find model {masked(model_uri)}: {masked_text(str(exc))}") from None


def download_artifact(run_id: str, artifact_path: str, folder: Path, settings: Settings | None = None) -> Path:
    """Download artifact ``artifact_path`` (a file or a folder) of run ``run_id`` into ``folder``.

    Returns:
        The local path of the downloaded artifact.

    Raises:
        ModelNotFoundError: when the run or its artifact does not exist.
        TrackingError: when the store does not answer.
    """
    # lazy: mlflow takes about a second to import; commands that never reach a store skip it
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    configure(settings)
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=str(folder))
    except (MlflowException, OSError) as exc:
        raise_if_unreachable(exc, settings)
        raise ModelNotFoundError(f"run {run_id} has no artifact {artifact_path}: {masked_text(str(exc))}") from None
    return Path(local)
