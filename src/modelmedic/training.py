"""The training job: data -> reference period -> model -> MLflow run and registry."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic import tracking
from modelmedic.config import Settings, get_settings
from modelmedic.drift.profile import log_reference_profile
from modelmedic.errors import DataError
from modelmedic.model import DEFAULT_KIND, evaluate, feature_frame, seasonal_baseline, train
from modelmedic.performance import regression_metrics
from modelmedic.schema import DatasetSchema
from modelmedic.windows import day_end, select_period

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class TrainingResult:
    """What a training run produced."""

    run_id: str
    model_uri: str
    version: str | None
    metrics: dict[str, float]
    params: dict[str, Any]
    model: Any = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "version": self.version,
            "metrics": self.metrics,
            "params": self.params,
        }


def training_metrics(
    model: Any, reference: pd.DataFrame, holdout: pd.DataFrame, schema: DatasetSchema
) -> dict[str, float]:
    """Metrics on the training period (``train/*``), on the held-out weeks (``eval/*``) and
    of the hour-of-day baseline on the held-out weeks (``baseline/*``)."""
    metrics = {f"train/{k}": v for k, v in evaluate(model, reference, schema).items()}
    if not holdout.empty:
        metrics.update({f"eval/{k}": v for k, v in evaluate(model, holdout, schema).items()})
        base = seasonal_baseline(reference, holdout, schema)
        metrics.update({f"baseline/{k}": v for k, v in regression_metrics(holdout[schema.target], base).items()})
    return metrics


def train_and_register(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    *,
    settings: Settings | None = None,
    kind: str = DEFAULT_KIND,
    start: str | None = None,
    end: str | None = None,
    eval_weeks: int = 4,
    register: bool = True,
    source: str = "",
    params: dict[str, Any] | None = None,
) -> TrainingResult:
    """Train on the reference period, evaluate on the next weeks, log and register in MLflow.

    Every call creates a new run and, with ``register``, a new registered version that
    the ``champion`` alias points to.

    Raises:
        DataError: when the period holds no labelled rows.
        TrackingError: when the MLflow store cannot be reached.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    settings = settings or get_settings()
    start = start or settings.reference_start
    end = end or settings.reference_end
    reference = select_period(frame, start, end)
    if schema.target not in reference or reference[schema.target].notna().sum() == 0:
        raise DataError(f"the period {start}..{end} holds no labelled rows to train on")
    hold_begin = day_end(end)
    holdout = frame.loc[(frame.index >= hold_begin) & (frame.index < hold_begin + pd.Timedelta(weeks=eval_weeks))]

    began = time.perf_counter()
    model = train(reference, schema, kind, seed=settings.seed, **(params or {}))
    train_seconds = time.perf_counter() - began
    metrics = training_metrics(model, reference, holdout, schema)
    metrics["train/seconds"] = train_seconds
    estimator = model.named_steps["regressor"]
    run_params: dict[str, Any] = {
        "model_kind": kind,
        "estimator": type(estimator).__name__,
        "reference_start": start,
        "reference_end": end,
        "eval_weeks": eval_weeks,
        "rows_train": len(reference),
        "rows_eval": len(holdout),
        "features": ",".join(schema.features),
        "target": schema.target,
        "dataset": schema.name,
        **{f"estimator.{k}": v for k, v in estimator.get_params().items() if not callable(v)},
    }
    digest = pd.util.hash_pandas_object(reference, index=True).sum()
    tags = {
        "modelmedic.dataset": schema.name,
        "modelmedic.data_source": source or "memory",
        "modelmedic.reference_digest": f"{int(digest) & (2**64 - 1):016x}",
        "modelmedic.role": "train",
    }

    experiment = tracking.experiment_id(settings.experiment, settings)
    mlflow_client = tracking.client(settings)
    with tracking.start_run(experiment, f"train-{kind}-{start}..{end}", settings) as run_id:
        tracking.log_values(mlflow_client, run_id, metrics, run_params, tags)
        tracking.log_dataset(
            reference.reset_index(),
            source=source or "memory",
            name=f"{schema.name}:{start}..{end}",
            targets=schema.target,
            context="training",
            settings=settings,
        )
        info = tracking.log_model(model, feature_frame(reference, schema), settings=settings)
        # the training period's column summaries, for drift checks against this model
        log_reference_profile(mlflow_client, run_id, reference, schema)
    version = None
    if register:
        version = tracking.register(
            info.model_uri, settings.model_name, settings=settings, tags={"reference": f"{start}..{end}", "kind": kind}
        )
    return TrainingResult(run_id, info.model_uri, version, metrics, run_params, model)


def data_source_label(path: str | Path | None, settings: Settings) -> str:
    """A human-readable source for lineage: the file or folder the data came from."""
    if path is not None:
        return Path(path).name
    if settings.data_dir is not None:
        return f"bike-sharing ({Path(settings.data_dir).name})"
    return settings.data_urls[0] if settings.data_urls else "bike-sharing"
