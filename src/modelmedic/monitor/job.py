"""The monitoring job: windows -> drift + performance + quality -> MLflow + report files.

What the job measures and the files it writes are described in :mod:`modelmedic.monitor`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic import tracking
from modelmedic.concurrency import Aside
from modelmedic.config import Settings, get_settings
from modelmedic.drift.base import DriftResult
from modelmedic.drift.spark.checks import WindowChecks, WindowMeasures
from modelmedic.errors import DataError
from modelmedic.estimation import ESTIMATE_COLUMN, add_loss_estimates
from modelmedic.extras import require_installed
from modelmedic.model import predict
from modelmedic.monitor.parallel import WindowDrift, default_workers
from modelmedic.monitor.reports import point_latest, write_summary, write_tables
from modelmedic.monitor.results import INSUFFICIENT, MIN_ROWS, OK, MonitorConfig, MonitorResult, WindowResult, verdict
from modelmedic.monitor.runs import finish_summary_run, log_monitor
from modelmedic.performance import (
    error_ratio,
    regression_metrics,
    segment_errors,
    worst_segments,
)
from modelmedic.progress import progress_tasks
from modelmedic.quality import QualityProfile, non_finite_counts
from modelmedic.schema import DatasetSchema
from modelmedic.tracking import store_errors
from modelmedic.windows import Window, day_end, select_period, windows_after

if TYPE_CHECKING:
    import pandas as pd


def resolve_model(model: Any, model_uri: str | None, settings: Settings) -> tuple[Any, str, str | None]:
    """The model to monitor: ``model`` itself, else the one at ``model_uri``, else the champion.

    Returns:
        ``(model, model_uri, version)``; the version is ``None`` when unknown.

    Raises:
        ModelNotFoundError: when no model is found.
        UntrustedModelError: when the model is saved in a format whose loader can run code.
    """
    if model is not None:
        return model, model_uri or "memory", None
    version = None
    if model_uri is None:
        model_uri, version = tracking.champion(settings)
    elif ref := tracking.registry_ref(model_uri):
        version = ref.version
    return tracking.load_trusted_model(model_uri, settings).model, model_uri, version


@dataclass
class Baseline:
    """What every window is compared with: the reference rows, their quality profile, and
    the model's reference error (overall and per segment) with where it was measured."""

    schema: DatasetSchema
    reference: pd.DataFrame
    profile: QualityProfile
    error: dict[str, float]
    segment_errors: pd.DataFrame | None
    error_source: str
    labelled: bool

    @property
    def segments(self) -> list[str]:
        """The schema's segment columns present in the data."""
        return [c for c in self.schema.segments if c in self.reference.columns]


def monitored_frame(frame: pd.DataFrame, schema: DatasetSchema, model: Any) -> pd.DataFrame:
    """The columns the job reads (features, target, segments) plus the model's predictions.

    A row holding ``inf`` or ``-inf`` in a feature gets no prediction (the model cannot score
    it); the window's data quality counts such values (``non_finite``).
    """
    # lazy: numpy only where arrays are computed
    import numpy as np

    wanted = [*schema.features, schema.target, *schema.segments]
    data = frame[[c for c in dict.fromkeys(wanted) if c in frame.columns]].copy()
    if any(non_finite_counts(frame, schema.numerical).values()):
        scorable = ~np.isinf(frame[list(schema.numerical)].to_numpy(dtype=float, na_value=np.nan)).any(axis=1)
        data[schema.prediction] = np.nan
        data.loc[scorable, schema.prediction] = predict(model, frame.loc[scorable], schema)
    else:
        data[schema.prediction] = predict(model, frame, schema)
    return data


def baseline(data: pd.DataFrame, schema: DatasetSchema, start: str, end: str, weeks: int) -> Baseline:
    """The :class:`Baseline` of ``data`` (from :func:`monitored_frame`).

    The reference error is measured on the ``weeks`` right after the reference (data the
    model was not trained on), else, without labels there, on the reference period.

    Raises:
        DataError: when the reference period holds no rows.
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    reference = select_period(data, start, end)
    profile = QualityProfile.fit(reference, schema.numerical, schema.categorical)
    labelled = schema.target in data.columns and bool(data[schema.target].notna().any())
    result = Baseline(schema, reference, profile, {}, None, "no labels", labelled)
    if not labelled:
        return result
    begin = day_end(end)
    held = Window(0, begin, begin + pd.Timedelta(weeks=weeks)).slice(data)
    rows = held.loc[held[schema.target].notna()]
    result.error_source = f"{weeks} held-out weeks after the reference, {begin:%Y-%m-%d} on"
    if rows.empty:
        rows = reference.loc[reference[schema.target].notna()]
        result.error_source = "the reference period (in-sample)"
    actual, predicted = rows[schema.target], rows[schema.prediction]
    result.error = regression_metrics(actual, predicted)
    result.segment_errors = segment_errors(actual, predicted, rows[result.segments])
    return result


def assess(
    window: Window,
    current: pd.DataFrame,
    drift: DriftResult | None,
    base: Baseline,
    *,
    min_rows: int = MIN_ROWS,
    top_segments: int = 3,
    max_error_ratio: float = 1.5,
    measured: WindowMeasures | None = None,
) -> WindowResult:
    """Everything about one window: its quality, and with ``drift`` (``None``: too few rows)
    the feature/target/prediction drift, the performance and the worst segments; the
    quality, labelled rows and error come from ``measured`` when the engine measured them."""
    # lazy: numpy only where arrays are computed
    import numpy as np

    schema = base.schema
    labelled = current.loc[current[schema.target].notna()] if base.labelled else current.iloc[:0]
    status = OK if drift is not None else INSUFFICIENT
    quality = measured.quality if measured else base.profile.check(current)
    result = WindowResult(window, len(current), measured.labelled if measured else len(labelled), status, quality)
    if drift is not None:
        result.drift = replace(drift, columns={c: drift.columns[c] for c in schema.features})
        result.target_drift = drift.columns.get(schema.target) if base.labelled else None
        result.prediction_drift = drift.columns.get(schema.prediction)
        if result.labelled >= min_rows:
            actual, predicted = labelled[schema.target], labelled[schema.prediction]
            result.performance = dict(measured.performance) if measured else regression_metrics(actual, predicted)
            result.performance["mae_ratio"] = error_ratio(result.performance, base.error)
            errors = segment_errors(actual, predicted, labelled[base.segments])
            result.segments = worst_segments(errors, base.segment_errors, top_segments)
    if drift is not None and ESTIMATE_COLUMN in current.columns:  # label-free: before the labels arrive
        result.performance["mae_estimated"] = float(current[ESTIMATE_COLUMN].mean())
        if "mae" in result.performance:
            result.performance["mae_estimate_error"] = result.performance["mae_estimated"] - result.performance["mae"]
    ratio = result.performance.get("mae_ratio", np.nan)
    result.verdict = verdict(result.status, result.drift, ratio, max_error_ratio)
    return result


def _report_folder(settings: Settings) -> Path:
    root = settings.monitor_reports_dir
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise DataError(f"cannot create a report folder in {root}")


def run(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    model: Any = None,
    settings: Settings | None = None,
    *,
    config: MonitorConfig | None = None,
    model_uri: str | None = None,
    windows: list[Window] | None = None,
    track: bool = True,
    progress: bool = False,
    **options: Any,
) -> MonitorResult:
    """Monitor ``model`` on every window of ``frame`` against the reference period.

    Args:
        frame: The data (sorted ``DatetimeIndex``, as :func:`modelmedic.data.load_dataset`).
        schema: Its :class:`~modelmedic.schema.DatasetSchema`.
        model: A fitted model; default: the one at ``model_uri``, else the registry's champion.
        settings: Settings (tracking store, reports folder, reference period, drift engine).
        config: How to measure (:class:`~modelmedic.monitor.results.MonitorConfig`).
        model_uri: An MLflow model URI to load when ``model`` is not given.
        windows: Explicit windows (e.g. :func:`modelmedic.windows.read_batches`); default:
            windows of ``config.window`` after the reference period.
        track: Log to MLflow (a summary run, one run per window).
        progress: Show progress bars on stderr.
        **options: Instead of ``config``, its fields and those of its drift tests
            (``window="1W"``, ``stattest="psi"``, ``html="none"``...).

    Returns:
        A :class:`~modelmedic.monitor.results.MonitorResult` holding the resolved config; its
        files are written to ``settings.monitor_reports_dir`` (see :mod:`modelmedic.monitor`).

    Raises:
        ConfigError: for a bad option (HTML policy, test, engine, window).
        DataError: when the reference or the windows hold no rows.
        ModelNotFoundError: when no model can be loaded.
        TrackingError: when MLflow refuses.
        MissingExtraError: without ``modelmedic[monitor]``.
        TypeError: when both ``config`` and ``options`` are given, or for an unknown option.
    """
    # the pictures (plotly, matplotlib) and results.parquet (pyarrow), before any work
    require_installed("plotly", "matplotlib", "pyarrow", purpose="modelmedic monitor")
    began = time.perf_counter()
    settings = settings or get_settings()
    if config is not None and options:
        raise TypeError("give either a MonitorConfig or its options, not both")
    config = (config or MonitorConfig.of(**options)).resolved(settings)
    spec = config.window if windows is None else f"{len(windows)} explicit windows"
    windows = _job_windows(frame, config, windows)
    model, model_uri, version = resolve_model(model, model_uri, settings)
    data = monitored_frame(frame, schema, model)
    add_loss_estimates(data, schema, config.reference_end, config.baseline_weeks, settings.seed)  # perf/mae_estimated
    base = baseline(data, schema, config.reference_start, config.reference_end, config.baseline_weeks)
    seconds = {"prepare": time.perf_counter() - began}
    results, folder = _measure(data, windows, base, config, settings, seconds, progress)
    result = MonitorResult(
        results, model_uri, version, config.reference_start, config.reference_end, len(base.reference), base.error,
        base.error_source, config, folder=folder, seconds=seconds, schema=schema, data=data,
    )  # fmt: skip
    _publish(result, settings, spec, track=track, progress=progress)
    seconds["total"] = time.perf_counter() - began
    _finish(result, settings, track=track)
    return result


def _job_windows(frame: pd.DataFrame, config: MonitorConfig, explicit: list[Window] | None) -> list[Window]:
    """The explicit windows, else those of ``config.window`` after the reference.

    Raises:
        DataError: when there is no window.
    """
    assert config.reference_end is not None  # resolved
    windows = explicit if explicit is not None else windows_after(frame, config.reference_end, config.window)
    if not windows:
        if explicit is not None:
            raise DataError("no windows given: nothing to monitor (a batch file needs one begin,end row a window)")
        raise DataError(f"no data after the reference period (ends {config.reference_end}): nothing to monitor")
    return windows


def _measure(
    data: pd.DataFrame,
    windows: list[Window],
    base: Baseline,
    config: MonitorConfig,
    settings: Settings,
    seconds: dict[str, float],
    progress: bool,
) -> tuple[list[WindowResult], Path]:
    """Every window's :class:`WindowResult`, and the report folder holding their HTML reports.

    Raises:
        ConfigError: for drift tests unfit for the columns.
        DataError: when the report folder cannot be created.
    """
    schema = base.schema
    outputs = [schema.target] if base.labelled else []
    feature_options, job_options = config.drift_options(schema, [*outputs, schema.prediction])
    columns = job_options.columns
    slices = [w.slice(data) for w in windows]
    enough = [i for i, s in enumerate(slices) if len(s) >= config.min_rows]
    workers = config.workers or default_workers()
    engine = str(config.engine)
    # each window's performance, quality and segments are computed where its drift is
    finish = partial(
        assess, base=base, min_rows=config.min_rows, top_segments=config.top_segments,
        max_error_ratio=config.max_error_ratio,
    )  # fmt: skip
    checks = WindowChecks(base.profile, schema.target if base.labelled else None, schema.prediction)
    with WindowDrift(engine, job_options, base.reference[columns], workers, finish, checks) as drift:
        mark = time.perf_counter()
        with progress_tasks(progress) as task:
            tick = task(f"drift ({engine})", len(enough))
            found = drift.calculate([slices[i] for i in enough], tick, [windows[i] for i in enough])
        assessed: dict[int, WindowResult] = dict(zip(enough, found, strict=True))
        # windows with too few rows get their quality only
        results = [
            assessed[i] if i in assessed else finish(w, s, None)
            for i, (w, s) in enumerate(zip(windows, slices, strict=True))
        ]
        seconds["drift"] = time.perf_counter() - mark

        mark = time.perf_counter()
        folder = _report_folder(settings)  # only now: a job that fails earlier leaves no empty folder
        chosen = [
            i for i, r in enumerate(results)
            if r.drift is not None and (config.html == "all" or (config.html == "drifted" and r.drift.drifted))
        ]  # fmt: skip
        jobs = [(slices[i][columns], folder / f"windows/window-{windows[i].index:03d}.html") for i in chosen]
        with progress_tasks(progress and bool(jobs)) as task:
            target = schema.target if base.labelled else None
            task_tick = task("evidently HTML reports", len(jobs))
            written = drift.render(jobs, feature_options, target, schema.prediction, task_tick)
        for i, path in zip(chosen, written, strict=True):
            results[i].html = None if path is None else path.relative_to(folder).as_posix()
        seconds["html"] = time.perf_counter() - mark
    return results, folder


def _publish(result: MonitorResult, settings: Settings, spec: str, *, track: bool, progress: bool) -> None:
    """Write the tables and pictures and, with ``track``, log the runs to MLflow meanwhile.

    Raises:
        TrackingError: when MLflow refuses.
    """
    assert result.folder is not None
    mark = time.perf_counter()
    # the tables and pictures are drawn in a forked process while this one logs to MLflow
    with Aside(write_tables, result.to_df(), result.folder, background=track) as files:
        if track:
            config = result.config
            options = {"window": spec, "stattest": config.tests.stattest or "default", "min_rows": config.min_rows}
            with progress_tasks(progress) as task, store_errors(settings):
                log_monitor(result, settings, options, task("MLflow runs", len(result.windows)))
        result.seconds["mlflow"] = time.perf_counter() - mark
        files.result()
    result.seconds["files"] = files.seconds


def _finish(result: MonitorResult, settings: Settings, *, track: bool) -> None:
    """Write ``summary.json``, close the MLflow summary run and point ``latest.json`` at the job.

    Raises:
        TrackingError: when MLflow refuses.
    """
    assert result.folder is not None
    write_summary(result, result.folder)
    if track:
        with store_errors(settings):
            finish_summary_run(result, settings)
    point_latest(result.folder.parent, result.folder, result.summary_run_id)
