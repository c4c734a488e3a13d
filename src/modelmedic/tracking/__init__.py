"""Everything MLflow, behind one door: the store, experiments and runs, models and the registry.

No other modelmedic module imports ``mlflow``: they call the functions below, and every
failure of the store reaches them as one :class:`~modelmedic.errors.TrackingError` line
("does not answer" or "refused", the store's URI without its password). The modules:

- :mod:`~modelmedic.tracking.store`: configuring the store, a client whose calls fail in one
  line, bounded waits, existence checks that create nothing;
- :mod:`~modelmedic.tracking.runs`: experiments, runs, batched logging, artifacts;
- :mod:`~modelmedic.tracking.registry`: ``models:/`` URIs, registering, the champion;
- :mod:`~modelmedic.tracking.models`: logging and loading models, the skops trust policy;
- :mod:`~modelmedic.tracking.artifacts_db`: the ``modelmedic-db:`` artifact repository (an
  MLflow plugin, imported by MLflow itself).

Importing this package imports no MLflow: each function imports what it uses when called.
"""

from modelmedic.tracking.models import (
    TrustedModel,
    foreign_types,
    load_model,
    load_skops,
    load_trusted_model,
    log_model,
    preload,
    trusted_types,
)
from modelmedic.tracking.registry import CHAMPION, RegistryRef, champion, register, registry_ref
from modelmedic.tracking.runs import (
    artifact_location,
    download_artifact,
    experiment_id,
    log_dataset,
    log_series,
    log_values,
    metric_key,
    model_run_id,
    start_run,
)
from modelmedic.tracking.store import (
    NOT_FOUND_CODES,
    TrackingClient,
    bound_http_waits,
    client,
    configure,
    prepare_store,
    raise_if_unreachable,
    require_database_answers,
    require_store,
    sqlite_store_path,
    store_error,
    store_errors,
    store_name,
    unreachable_reason,
)

__all__ = [
    "CHAMPION",
    "NOT_FOUND_CODES",
    "RegistryRef",
    "TrackingClient",
    "TrustedModel",
    "artifact_location",
    "bound_http_waits",
    "champion",
    "client",
    "configure",
    "download_artifact",
    "experiment_id",
    "foreign_types",
    "load_model",
    "load_skops",
    "load_trusted_model",
    "log_dataset",
    "log_model",
    "log_series",
    "log_values",
    "metric_key",
    "model_run_id",
    "preload",
    "prepare_store",
    "raise_if_unreachable",
    "register",
    "registry_ref",
    "require_database_answers",
    "require_store",
    "sqlite_store_path",
    "start_run",
    "store_error",
    "store_errors",
    "store_name",
    "trusted_types",
    "unreachable_reason",
]
