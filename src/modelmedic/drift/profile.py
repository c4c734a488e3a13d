"""The reference profile: what the ``fast`` engine learns in ``fit``, saved and loaded.

A :class:`ReferenceProfile` holds the column summaries of a reference period
(:mod:`~modelmedic.drift.stats`). It is saved as one ``.npz`` file (arrays plus a
versioned JSON header, no pickles) and logged with every training run as the MLflow
artifact ``reference_profile/``, so the service and later monitor runs test drift
against the model's own training data without reading it again::

    profile = load_profile_for_model("models:/bike-demand@champion")
    result = FastEngine.from_profile(profile).calculate(window)
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmedic import tracking
from modelmedic.drift.base import ColumnType, DriftOptions, is_numerical
from modelmedic.drift.stats import CategoryStats, ColumnStats, NumericStats, StatsSource, frame_stats, per_column
from modelmedic.errors import DataError, DriftError, ModelNotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.config import Settings
    from modelmedic.schema import DatasetSchema
    from modelmedic.tracking import TrackingClient

PROFILE_VERSION = 1
PROFILE_FORMAT = "modelmedic.reference_profile"
ARTIFACT_DIR = "reference_profile"
ARTIFACT_FILE = "profile.npz"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_JSON_SCALARS = (str, int, float, bool)


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Column summaries of a reference, as the ``fast`` engine's ``fit`` computes them.

    Attributes:
        numerical: Numerical columns.
        categorical: Categorical columns.
        columns: ``{column: NumericStats | CategoryStats}``, or the :class:`DriftError`
            saying why a column could not be summarised (e.g. non-numbers).
        rows: Rows of the reference (missing values included).
    """

    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    columns: dict[str, ColumnStats | DriftError]
    rows: int

    @classmethod
    def from_stats(
        cls, numerical: tuple[str, ...], categorical: tuple[str, ...], stats: StatsSource
    ) -> ReferenceProfile:
        """The profile of the reference summarised by ``stats`` (column by column, on all
        cores for large data).

        Raises:
            DriftError: when the reference holds no rows.
        """
        if stats.rows == 0:
            raise DriftError("the reference holds no rows; choose a reference period with data")
        columns = per_column([*numerical, *categorical], stats.__getitem__, stats.rows)
        return cls(numerical, categorical, columns, stats.rows)

    def column_type(self, column: str) -> ColumnType:
        """``numerical`` or ``categorical``."""
        return "numerical" if column in self.numerical else "categorical"

    def options(self, **overrides: Any) -> DriftOptions:
        """Drift options testing every profiled column (``overrides`` go to DriftOptions)."""
        return DriftOptions(numerical=self.numerical, categorical=self.categorical, **overrides)

    def save(self, path: str | Path) -> Path:
        """Write the profile to ``path`` (``.npz``); return the path.

        Raises:
            DriftError: when a category value is not a string, number or boolean.
        """
        path = Path(path)
        header: dict[str, Any] = {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "rows": self.rows,
            "numerical": list(self.numerical),
            "categorical": list(self.categorical),
            "columns": [],
        }
        arrays: dict[str, np.ndarray] = {}
        for i, (name, stats) in enumerate(self.columns.items()):
            entry: dict[str, Any] = {"name": name}
            if isinstance(stats, DriftError):
                entry["error"] = str(stats)
                header["columns"].append(entry)
                continue
            if isinstance(stats, NumericStats):
                entry["integer"], entry["distinct"] = stats.integer, stats.distinct
                arrays[f"values_{i}"] = stats.values
                if not stats.distinct:
                    arrays[f"counts_{i}"] = stats.counts
            else:
                bad = [k for k in stats.keys if not isinstance(k, _JSON_SCALARS)]
                if bad:
                    raise DriftError(
                        f"cannot save the categories of '{name}' ({type(bad[0]).__name__} values): "
                        "use strings or numbers as categories"
                    )
                entry["keys"] = list(stats.keys)
                arrays[f"counts_{i}"] = stats.counts
            header["columns"].append(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`.

        Raises:
            DataError: when the file is missing, not a profile, or of another version.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"reference profile {path} not found")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                arrays = {k: data[k] for k in data.files if k != "header"}
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{path.name} is not a reference profile: {exc}") from None
        if header.get("format") != PROFILE_FORMAT:
            raise DataError(f"{path.name} is not a modelmedic reference profile")
        if header.get("version") != PROFILE_VERSION:
            raise DataError(
                f"{path.name} is a version {header.get('version')} reference profile; this "
                f"modelmedic reads version {PROFILE_VERSION}: train the model again"
            )
        columns: dict[str, ColumnStats | DriftError] = {}
        for i, entry in enumerate(header["columns"]):
            if "error" in entry:
                columns[entry["name"]] = DriftError(entry["error"])
                continue
            if "keys" in entry:
                columns[entry["name"]] = CategoryStats(tuple(entry["keys"]), arrays[f"counts_{i}"].astype(np.int64))
                continue
            values, integer = arrays[f"values_{i}"].astype(np.float64), bool(entry["integer"])
            if entry["distinct"]:
                columns[entry["name"]] = NumericStats.all_distinct(values, integer)
            else:
                columns[entry["name"]] = NumericStats(values, arrays[f"counts_{i}"].astype(np.int64), integer)
        return cls(tuple(header["numerical"]), tuple(header["categorical"]), columns, int(header["rows"]))


def profile_reference(
    reference: pd.DataFrame, numerical: list[str] | tuple[str, ...], categorical: list[str] | tuple[str, ...]
) -> ReferenceProfile:
    """Summarise ``reference`` for the ``fast`` engine.

    Raises:
        DriftError: when a column is missing or a numerical column holds non-numbers.
    """
    options = DriftOptions(numerical=tuple(numerical), categorical=tuple(categorical))  # checks the columns
    stats = frame_stats(reference, options.numerical, options.categorical, "reference")
    return ReferenceProfile.from_stats(options.numerical, options.categorical, stats)


def schema_profile(reference: pd.DataFrame, schema: DatasetSchema) -> ReferenceProfile:
    """Profile the schema's features and, when present, its target (by its dtype)."""
    numerical, categorical = list(schema.numerical), list(schema.categorical)
    if schema.target in reference.columns:
        (numerical if is_numerical(reference[schema.target]) else categorical).append(schema.target)
    return profile_reference(reference, numerical, categorical)


def log_reference_profile(
    mlflow_client: TrackingClient, run_id: str, reference: pd.DataFrame, schema: DatasetSchema
) -> ReferenceProfile:
    """Profile the training period and log it as artifact ``reference_profile/`` of ``run_id``.

    Raises:
        TrackingError: when the store does not answer or refuses.
    """
    profile = schema_profile(reference, schema)
    with tempfile.TemporaryDirectory() as folder:
        path = profile.save(Path(folder) / ARTIFACT_FILE)
        mlflow_client.log_artifact(run_id, str(path), artifact_path=ARTIFACT_DIR)
    return profile


def load_profile_for_model(model: str, settings: Settings | None = None) -> ReferenceProfile:
    """Download the reference profile logged with a model's training run.

    Args:
        model: A training run id, or a model URI (``models:/name@champion``,
            ``models:/name/3``, ``runs:/<run_id>/model``).
        settings: Where the MLflow store is (default: the environment's settings).

    Raises:
        ModelNotFoundError: when the model or its profile cannot be found (a model
            trained before profiles existed: train it again).
        TrackingError: when the store does not answer.
    """
    run_id = model if _RUN_ID.match(model) else tracking.model_run_id(model, settings)
    if not run_id:
        raise ModelNotFoundError(f"model {model} was not logged by a run, so it has no reference profile")
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = tracking.download_artifact(run_id, f"{ARTIFACT_DIR}/{ARTIFACT_FILE}", Path(folder), settings)
        except ModelNotFoundError:
            raise ModelNotFoundError(
                f"run {run_id} has no {ARTIFACT_DIR}/ artifact: train the model again with this version of modelmedic"
            ) from None
        return ReferenceProfile.load(local)
