"""What a monitoring job found: one :class:`WindowResult` per window, gathered in a
:class:`MonitorResult` with a tidy table (:meth:`MonitorResult.to_df`) and a JSON shape
(:meth:`MonitorResult.to_dict`). The columns of both are documented in
:mod:`modelmedic.monitor`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.drift.base import ColumnDrift, DriftOptions, DriftResult, DriftTests
from modelmedic.errors import ConfigError
from modelmedic.quality import QualityResult
from modelmedic.tracking import metric_key
from modelmedic.windows import Window

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.config import Settings
    from modelmedic.schema import DatasetSchema

HTML_POLICIES = ("none", "drifted", "all")
MIN_ROWS = 20


@dataclass(frozen=True)
class MonitorConfig:
    """How a monitoring job measures: its windows, reference, drift tests and thresholds.

    Shared by ``modelmedic monitor``, the service's live monitoring and the evidently-workspace
    export, and kept on the :class:`MonitorResult` it produced.

    Attributes:
        window: Window length after the reference (``1D``, ``1W``, ``1M``...).
        reference_start: First day of the reference (``None``: the settings').
        reference_end: Last day of the reference (``None``: the settings').
        engine: Drift engine, ``fast``, ``evidently`` or ``spark`` (``None``: the settings').
        tests: The drift tests, thresholds and dataset drift share.
        html: Evidently HTML report per window: ``none``, ``drifted`` (windows whose dataset
            drifts) or ``all``.
        min_rows: Windows with fewer rows are ``insufficient data``; with fewer labels, no
            performance; columns with fewer values are not tested.
        baseline_weeks: Weeks after the reference whose error is the reference error.
        max_error_ratio: A window whose MAE exceeds this many times the reference error
            is ``degraded``.
        top_segments: How many worst segments to keep per window.
        workers: Processes measuring the windows (``None``: up to 2, one per core; 1: all
            in this process).

    Raises:
        ConfigError: for an unknown HTML policy.
    """

    window: str = "1W"
    reference_start: str | None = None
    reference_end: str | None = None
    engine: str | None = None
    tests: DriftTests = field(default_factory=DriftTests)
    html: str = "drifted"
    min_rows: int = MIN_ROWS
    baseline_weeks: int = 4
    max_error_ratio: float = 1.5
    top_segments: int = 3
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.html not in HTML_POLICIES:
            raise ConfigError(f"--html {self.html} not understood: use one of {', '.join(HTML_POLICIES)}")

    @classmethod
    def of(cls, **options: Any) -> MonitorConfig:
        """A config from flat options: its own fields and those of :class:`DriftTests`.

        Raises:
            ConfigError: for an unknown HTML policy.
            TypeError: for an option neither holds.
        """
        tests = {k: options.pop(k) for k in DriftTests.__dataclass_fields__ if k in options}
        return cls(tests=DriftTests(**tests), **options)

    def resolved(self, settings: Settings) -> MonitorConfig:
        """This config with the reference period and engine the settings choose when unset."""
        return replace(
            self,
            reference_start=self.reference_start or settings.reference_start,
            reference_end=self.reference_end or settings.reference_end,
            engine=self.engine or settings.drift_engine,
        )

    def drift_options(self, schema: DatasetSchema, outputs: list[str]) -> tuple[DriftOptions, DriftOptions]:
        """The drift options of the features alone, and those of the job's single engine,
        which also tests the ``outputs`` (target and prediction columns, numerical).

        Raises:
            ConfigError: for unknown tests, tests unfit for a column, or unknown columns.
        """
        features = DriftOptions.from_schema(schema, self.tests, min_rows=self.min_rows)
        return features, DriftOptions.from_schema(schema, self.tests, outputs=outputs, min_rows=self.min_rows)


OK = "ok"
INSUFFICIENT = "insufficient data"
TABLE_COLUMNS = [
    "window",
    "label",
    "begin",
    "end",
    "rows",
    "status",
    "kind",
    "column",
    "metric",
    "value",
    "stattest",
    "threshold",
    "drifted",
    "note",
]


def verdict(status: str, drift: DriftResult | None, mae_ratio: float, max_error_ratio: float) -> str:
    """One word or two for a window: ``insufficient data``, ``ok``, ``drift``, ``degraded``
    (MAE above ``max_error_ratio`` times the reference error) or ``drift, degraded``."""
    if status != OK:
        return status
    found = []
    if drift is not None and drift.drifted:
        found.append("drift")
    if math.isfinite(mae_ratio) and mae_ratio > max_error_ratio:
        found.append("degraded")
    return ", ".join(found) or "ok"


def _flag(value: bool | None) -> float:
    return float("nan") if value is None else float(value)


@dataclass
class WindowResult:
    """Everything measured on one window against the reference.

    ``drift`` covers the features only (the dataset drift share comes from it);
    ``target_drift`` and ``prediction_drift`` are tested by the same engine. With fewer rows
    than the job's minimum the window's ``status`` is ``insufficient data`` and only its
    quality is measured.
    """

    window: Window
    rows: int
    labelled: int
    status: str
    quality: QualityResult
    drift: DriftResult | None = None
    target_drift: ColumnDrift | None = None
    prediction_drift: ColumnDrift | None = None
    performance: dict[str, float] = field(default_factory=dict)
    segments: pd.DataFrame | None = field(default=None, repr=False)
    verdict: str = ""
    run_id: str | None = None
    html: str | None = None

    @property
    def drift_share(self) -> float | None:
        """Share of drifted features among those tested (``None`` if none was)."""
        return None if self.drift is None else self.drift.share

    def segment_summary(self) -> str:
        """The worst segments in one line, e.g. ``hr=17 (MAE 95.2, 2.1x reference)``."""
        if self.segments is None or self.segments.empty:
            return ""
        parts = []
        for row in self.segments.itertuples(index=False):
            ratio = f", {row.mae_ratio:.1f}x reference" if math.isfinite(row.mae_ratio) else ""
            parts.append(f"{row.segment}={row.value} (MAE {row.mae:.1f}{ratio})")
        return "; ".join(parts)

    def metrics(self) -> dict[str, float]:
        """The window's values as MLflow metrics (``drift/temp``, ``drift_share``, ``perf/mae``,
        ``quality/missing``...; per-column quality counts only where not zero)."""
        values: dict[str, float] = {"rows": float(self.rows), "labelled_rows": float(self.labelled)}
        if self.drift is not None:
            for col in self.drift.columns.values():
                if col.ok:
                    values[metric_key("drift", col.column)] = float(col.score)
                    values[metric_key("drifted", col.column)] = float(col.drifted)
            values["drifted_columns"] = float(self.drift.n_drifted)
            values["tested_columns"] = float(len(self.drift.tested))
            values["drift_share"] = _flag(self.drift.share)
            values["dataset_drift"] = _flag(self.drift.drifted)
        for name, col in (("target", self.target_drift), ("prediction", self.prediction_drift)):
            if col is not None and col.ok:
                values[f"{name}_drift"] = float(col.score)
                values[f"{name}_drifted"] = float(col.drifted)
        values.update({metric_key("perf", k): v for k, v in self.performance.items()})
        quality = self.quality.tracked_metrics()
        values.update({metric_key("quality", *k.split("/")): v for k, v in quality.items()})
        return values

    def table_rows(self) -> list[dict[str, Any]]:
        """The window's rows of the tidy table (see :mod:`modelmedic.monitor`)."""
        head = {
            "window": self.window.index,
            "label": self.window.label,
            "begin": self.window.begin,
            "end": self.window.end,
            "rows": self.rows,
            "status": self.status,
        }
        rows: list[dict[str, Any]] = []

        def add(kind: str, column: str, metric: str, value: float | None, **more: Any) -> None:
            rows.append(
                {
                    **head,
                    "kind": kind,
                    "column": column,
                    "metric": metric,
                    "value": float("nan") if value is None else float(value),
                    **more,
                }
            )

        def add_drift(kind: str, col: ColumnDrift) -> None:
            add(
                kind,
                col.column,
                "score",
                col.score,
                stattest=col.stattest,
                threshold=col.threshold,
                drifted=col.drifted,
                note=col.error,
            )

        if self.drift is not None:
            for col in self.drift.columns.values():
                add_drift("drift", col)
            add(
                "dataset",
                "",
                "share",
                self.drift.share,
                drifted=self.drift.drifted,
                threshold=self.drift.drift_share,
            )
            add("dataset", "", "drifted_columns", self.drift.n_drifted)
            add("dataset", "", "tested_columns", len(self.drift.tested))
        for kind, col in (("target", self.target_drift), ("prediction", self.prediction_drift)):
            if col is not None:
                add_drift(kind, col)
        for metric, value in self.performance.items():
            add("performance", "", metric, value)
        for key, value in self.quality.to_metrics().items():
            metric, _, column = key.partition("/")
            add("quality", column, metric, value)
        if self.segments is not None:
            for seg in self.segments.itertuples(index=False):
                for metric in ("rank", "rows", "mae", "reference_mae", "mae_ratio"):
                    add("segment", f"{seg.segment}={seg.value}", metric, getattr(seg, metric))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary of the window."""
        segments = [] if self.segments is None else self.segments.to_dict(orient="records")
        return {
            "index": self.window.index,
            "label": self.window.label,
            "begin": self.window.begin.isoformat(),
            "end": self.window.end.isoformat(),
            "rows": self.rows,
            "labelled_rows": self.labelled,
            "status": self.status,
            "verdict": self.verdict,
            "drift": None if self.drift is None else self.drift.to_dict(),
            "target_drift": None if self.target_drift is None else self.target_drift.to_dict(),
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.to_dict(),
            "performance": self.performance,
            "quality": self.quality.to_dict(),
            "worst_segments": segments,
            "run_id": self.run_id,
            "html": self.html,
        }


@dataclass
class MonitorResult:
    """The result of :func:`modelmedic.monitor.run`: every window, and where it was logged.

    ``config`` is the job's (resolved) :class:`MonitorConfig`, which also answers
    ``engine``, ``drift_share`` and ``html``; ``schema`` and ``data`` (the
    monitored columns with the model's predictions) let later steps, such as the evidently
    workspace export, see what the job saw without predicting again.
    """

    windows: list[WindowResult]
    model_uri: str
    model_version: str | None
    reference_start: str
    reference_end: str
    reference_rows: int
    reference_error: dict[str, float]
    reference_error_source: str
    config: MonitorConfig
    tracking_uri: str | None = None
    experiment_id: str | None = None
    summary_run_id: str | None = None
    folder: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    schema: DatasetSchema | None = None
    data: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def engine(self) -> str:
        """The drift engine the job ran."""
        return str(self.config.engine)

    @property
    def drift_share(self) -> float:
        """The share of drifted features that makes a window's data set drift."""
        return self.config.tests.drift_share

    @property
    def html(self) -> str:
        """The evidently HTML report policy (``none``, ``drifted``, ``all``)."""
        return self.config.html

    @property
    def features(self) -> list[str]:
        """The monitored features, in order."""
        for w in self.windows:
            if w.drift is not None:
                return list(w.drift.columns)
        return []

    def to_df(self) -> pd.DataFrame:
        """The tidy table: one row per window x metric or column (columns in ``TABLE_COLUMNS``)."""
        # lazy: pandas takes half a second to import; loaded where frames are handled
        import pandas as pd

        table = pd.DataFrame([r for w in self.windows for r in w.table_rows()], columns=TABLE_COLUMNS)
        table["drifted"] = table["drifted"].astype("boolean")
        table["threshold"] = table["threshold"].astype(float)
        table["value"] = table["value"].astype(float)
        for col in ("label", "status", "kind", "column", "metric", "stattest", "note"):
            table[col] = table[col].astype("string")
        return table

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by ``monitor --json`` and saved as ``summary.json``."""
        return {
            "model": {"uri": self.model_uri, "version": self.model_version},
            "reference": {
                "start": self.reference_start,
                "end": self.reference_end,
                "rows": self.reference_rows,
                "error": self.reference_error,
                "error_source": self.reference_error_source,
            },
            "engine": self.engine,
            "drift_share": self.drift_share,
            "html": self.html,
            "features": self.features,
            "mlflow": {
                "tracking_uri": self.tracking_uri,
                "experiment_id": self.experiment_id,
                "summary_run_id": self.summary_run_id,
            },
            "folder": None if self.folder is None else str(self.folder),
            "seconds": self.seconds,
            "windows": [w.to_dict() for w in self.windows],
        }
