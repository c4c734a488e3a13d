"""The monitoring job: windows -> drift + performance + quality -> MLflow + report files.

For every window after the reference period (weekly by default) the job measures, against
the reference: the drift of each feature, the dataset drift (share of drifted features),
the drift of the target and of the model's predictions (same engine), the model's error
where labels exist (and its ratio to the reference error), data quality and the segments
where the error grew most. Windows with fewer than ``min_rows`` rows are reported as
``insufficient data``, never as drift.

The reference error is the model's error on the ``baseline_weeks`` (4) weeks right after
the reference period, data the model was not trained on (training's ``eval/*`` metrics);
when those weeks hold no labels, the in-sample error on the reference period is used.
``MonitorResult.reference_error_source`` says which.

Example:
    >>> from modelmedic import monitor
    >>> result = monitor.run(frame, schema, settings=settings, window="1W", html="none")
    >>> result.to_df().query("kind == 'dataset' and metric == 'share'")

Files, in ``<reports_dir>/monitor/<YYYYmmdd-HHMMSS>/`` (``<reports_dir>/monitor/latest.json``
holds ``{"folder": <that folder's name>, "summary_run_id": ..., "written": ...}``), also
logged as artifacts of the MLflow summary run:

``results.parquet`` / ``results.csv``, the tidy table, one row per window x metric/column:
    ``window`` (int, the window's index), ``label`` (``2011-01-29..2011-02-04``), ``begin``,
    ``end`` (timestamps, ``end`` exclusive), ``rows`` (int), ``status`` (``ok`` or
    ``insufficient data``), ``kind`` (``drift``: a feature; ``dataset``: the dataset drift;
    ``target`` / ``prediction``: their drift; ``performance``; ``quality``; ``segment``: one of
    the worst segments), ``column`` (the feature, target or prediction column, the quality
    column, ``hr=17`` for a segment, empty for window-level values), ``metric`` (``score`` for
    drift rows; ``share``/``drifted_columns``/``tested_columns`` for dataset rows;
    ``mae``/``rmse``/``mape``/``bias``/``r2``/``mae_ratio`` for performance;
    ``rows``/``missing_share``/``missing``/``out_of_range``/``unseen`` for quality;
    ``rank``/``rows``/``mae``/``reference_mae``/``mae_ratio`` for segments), ``value`` (float,
    NaN when not computed), ``stattest`` (evidently's test id, drift rows), ``threshold``
    (the test's threshold; the dataset drift share on the ``share`` row), ``drifted``
    (nullable bool: the verdict of drift and share rows, null when not tested), ``note``
    (why a test could not run).
``summary.json``, :meth:`MonitorResult.to_dict`:
    ``model`` {uri, version}, ``reference`` {start, end, rows, error, error_source},
    ``engine``, ``drift_share``, ``html``, ``features``, ``mlflow`` {tracking_uri,
    experiment_id, summary_run_id}, ``folder``, ``seconds`` (wall times of ``prepare``,
    ``drift``, ``html``, ``mlflow``, ``files``: the tables and pictures, drawn in a second
    process during ``mlflow``, and ``total``), and ``windows``: one object per window with
    ``index``, ``label``, ``begin``, ``end``, ``rows``, ``labelled_rows``, ``status``,
    ``verdict`` (``ok``, ``drift``, ``degraded``, ``drift, degraded`` or ``insufficient
    data``), ``drift`` (the ``modelmedic drift`` JSON shape: {dataset, columns}),
    ``target_drift`` / ``prediction_drift`` (one column's shape), ``performance``,
    ``quality`` {rows, missing_share, missing, out_of_range, unseen}, ``worst_segments``
    (segment, value, rows, mae, bias, reference_mae, mae_ratio, rank), ``run_id`` (the
    window's MLflow run) and ``html`` (its evidently report, relative path).
Pictures: ``drift_flags``, ``drift_scores``, ``dataset_drift``, ``drift_share`` (``.html``
and ``.png``, see :mod:`modelmedic.reports`); ``windows/window-NNN.html``: evidently reports.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.config import Settings, get_settings
from modelmedic.drift.base import DriftOptions, DriftResult, stattest
from modelmedic.drift.spark.checks import WindowChecks, WindowMeasures
from modelmedic.errors import ConfigError, DataError
from modelmedic.estimation import ESTIMATE_COLUMN, add_loss_estimates
from modelmedic.monitor_results import INSUFFICIENT, OK, MonitorResult, WindowResult, verdict
from modelmedic.quality import QualityProfile
from modelmedic.schema import DatasetSchema
from modelmedic.window_drift import WindowDrift, default_workers
from modelmedic.windows import Window, day_end, select_period, windows_after

if TYPE_CHECKING:
    import pandas as pd

HTML_POLICIES = ("none", "drifted", "all")
MIN_ROWS = 20


def resolve_model(model: Any, model_uri: str | None, settings: Settings) -> tuple[Any, str, str | None]:
    """The model to monitor: ``model`` itself, else the one at ``model_uri``, else the champion.

    Returns:
        ``(model, model_uri, version)``; the version is ``None`` when unknown.

    Raises:
        ModelNotFoundError: when no model is found.
        UntrustedModelError: when the model is saved in a format whose loader can run code.
    """
    from modelmedic import tracking

    if model is not None:
        return model, model_uri or "memory", None
    version = None
    if model_uri is None:
        model_uri, version = tracking.champion(settings)
    elif ref := tracking.registry_ref(model_uri):
        version = ref.version
    return tracking.load_trusted_model(model_uri, settings).model, model_uri, version


def drift_options(
    schema: DatasetSchema,
    outputs: Sequence[str],
    *,
    stattest_name: str | None = None,
    threshold: float | None = None,
    per_column_stattest: Mapping[str, str] | None = None,
    per_column_threshold: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    min_rows: int = MIN_ROWS,
) -> tuple[DriftOptions, DriftOptions]:
    """The drift options of the features alone, and those of the job's single engine, which
    also tests the ``outputs`` (target and prediction columns, numerical).

    A global ``stattest_name``/``threshold`` applies to every feature, and to the outputs only
    when the test accepts numerical columns (otherwise they get evidently's default test);
    per-column overrides may name any of them.

    Raises:
        ConfigError: for unknown tests, tests unfit for a column, or unknown columns.
    """
    per_test, per_threshold = dict(per_column_stattest or {}), dict(per_column_threshold or {})
    features = DriftOptions(
        numerical=tuple(schema.numerical),
        categorical=tuple(schema.categorical),
        stattest=stattest_name,
        threshold=threshold,
        per_column_stattest={c: t for c, t in per_test.items() if c in schema.features},
        per_column_threshold={c: t for c, t in per_threshold.items() if c in schema.features},
        drift_share=drift_share,
        min_rows=min_rows,
    )
    covered = list(schema.features)
    if stattest_name is None or "numerical" in stattest(stattest_name).column_types:
        covered += list(outputs)
    tests = dict.fromkeys(covered, stattest_name) if stattest_name else {}
    thresholds = dict.fromkeys(covered, threshold) if threshold is not None else {}
    job = DriftOptions(
        numerical=(*schema.numerical, *outputs),
        categorical=tuple(schema.categorical),
        per_column_stattest={**tests, **per_test},
        per_column_threshold={**thresholds, **per_threshold},
        drift_share=drift_share,
        min_rows=min_rows,
    )
    return features, job


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
    import numpy as np

    from modelmedic.model import predict
    from modelmedic.quality import non_finite_counts

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
    import pandas as pd

    from modelmedic.performance import regression_metrics, segment_errors

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
    import numpy as np

    from modelmedic.performance import (
        error_ratio,
        regression_metrics,
        segment_errors,
        worst_segments,
    )

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
    model_uri: str | None = None,
    windows: list[Window] | None = None,
    window: str = "1W",
    reference_start: str | None = None,
    reference_end: str | None = None,
    engine: str | None = None,
    stattest: str | None = None,
    threshold: float | None = None,
    per_column_stattest: Mapping[str, str] | None = None,
    per_column_threshold: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    html: str = "drifted",
    min_rows: int = MIN_ROWS,
    baseline_weeks: int = 4,
    max_error_ratio: float = 1.5,
    top_segments: int = 3,
    workers: int | None = None,
    track: bool = True,
    progress: bool = False,
) -> MonitorResult:
    """Monitor ``model`` on every window of ``frame`` against the reference period.

    Args:
        frame: The data (sorted ``DatetimeIndex``, as :func:`modelmedic.data.load_dataset`).
        schema: Its :class:`~modelmedic.schema.DatasetSchema`.
        model: A fitted model; default: the one at ``model_uri``, else the registry's champion.
        settings: Settings (tracking store, reports folder, reference period, drift engine).
        model_uri: An MLflow model URI to load when ``model`` is not given.
        windows: Explicit windows (e.g. :func:`modelmedic.windows.read_batches`); default:
            windows of ``window`` (``1D``, ``1W``, ``1M``...) after the reference period.
        reference_start: First day of the reference (default: ``settings.reference_start``).
        reference_end: Last day of the reference (default: ``settings.reference_end``).
        engine: Drift engine, ``fast``, ``evidently`` or ``spark`` (default: ``settings.drift_engine``).
        stattest: Test for every feature (default: evidently's choice per column).
        threshold: Threshold for every feature (default: the test's own).
        per_column_stattest: Tests by column (features, target or prediction column).
        per_column_threshold: Thresholds by column.
        drift_share: Share of drifted features at which the dataset drifts.
        html: Evidently HTML report per window: ``none``, ``drifted`` (windows whose dataset
            drifts) or ``all``.
        min_rows: Windows with fewer rows are ``insufficient data``; with fewer labels, no
            performance; columns with fewer values are not tested.
        baseline_weeks: Weeks after the reference whose error is the reference error.
        max_error_ratio: A window whose MAE exceeds this many times the reference error
            is ``degraded``.
        top_segments: How many worst segments to keep per window.
        workers: Processes measuring the windows (default: up to 2, one per core; 1: all in
            this process).
        track: Log to MLflow (a summary run, one run per window).
        progress: Show progress bars on stderr.

    Returns:
        A :class:`~modelmedic.monitor_results.MonitorResult`; its files are written to
        ``settings.monitor_reports_dir`` (see the module docs).

    Raises:
        ConfigError: for a bad option (HTML policy, test, engine, window).
        DataError: when the reference or the windows hold no rows.
        ModelNotFoundError: when no model can be loaded.
        TrackingError: when MLflow refuses.
        MissingExtraError: without ``modelmedic[monitor]``.
    """
    from modelmedic.concurrency import Aside
    from modelmedic.extras import require_installed
    from modelmedic.monitor_tracking import finish_summary_run, log_monitor
    from modelmedic.progress import progress_tasks
    from modelmedic.reports import point_latest, write_summary, write_tables
    from modelmedic.tracking import store_errors

    # the pictures (plotly, matplotlib) and results.parquet (pyarrow), before any work
    require_installed("plotly", "matplotlib", "pyarrow", purpose="modelmedic monitor")
    began = time.perf_counter()
    settings = settings or get_settings()
    if html not in HTML_POLICIES:
        raise ConfigError(f"--html {html} not understood: use one of {', '.join(HTML_POLICIES)}")
    engine = engine or settings.drift_engine
    ref_start = reference_start or settings.reference_start
    ref_end = reference_end or settings.reference_end
    explicit = windows
    windows = windows if windows is not None else windows_after(frame, ref_end, window)
    if not windows:
        if explicit is not None:
            raise DataError("no windows given: nothing to monitor (a batch file needs one begin,end row a window)")
        raise DataError(f"no data after the reference period (ends {ref_end}): nothing to monitor")
    model, model_uri, version = resolve_model(model, model_uri, settings)
    data = monitored_frame(frame, schema, model)
    add_loss_estimates(data, schema, ref_end, baseline_weeks, settings.seed)  # perf/mae_estimated
    base = baseline(data, schema, ref_start, ref_end, baseline_weeks)
    outputs = [schema.target] if base.labelled else []
    feature_options, job_options = drift_options(
        schema, [*outputs, schema.prediction], stattest_name=stattest, threshold=threshold,
        per_column_stattest=per_column_stattest, per_column_threshold=per_column_threshold,
        drift_share=drift_share, min_rows=min_rows,
    )  # fmt: skip
    columns = job_options.columns
    slices = [w.slice(data) for w in windows]
    enough = [i for i, s in enumerate(slices) if len(s) >= min_rows]
    workers = workers or default_workers()
    seconds = {"prepare": time.perf_counter() - began}

    # each window's performance, quality and segments are computed where its drift is
    finish = partial(assess, base=base, min_rows=min_rows, top_segments=top_segments, max_error_ratio=max_error_ratio)
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
            if r.drift is not None and (html == "all" or (html == "drifted" and r.drift.drifted))
        ]  # fmt: skip
        jobs = [(slices[i][columns], folder / f"windows/window-{windows[i].index:03d}.html") for i in chosen]
        with progress_tasks(progress and bool(jobs)) as task:
            target = schema.target if base.labelled else None
            written = drift.render(
                jobs,
                feature_options,
                target,
                schema.prediction,
                task("evidently HTML reports", len(jobs)),
            )
        for i, path in zip(chosen, written, strict=True):
            results[i].html = None if path is None else path.relative_to(folder).as_posix()
        seconds["html"] = time.perf_counter() - mark

    result = MonitorResult(
        results, model_uri, version, ref_start, ref_end, len(base.reference), base.error,
        base.error_source, engine, drift_share, html, folder=folder, seconds=seconds,
    )  # fmt: skip
    mark = time.perf_counter()
    # the tables and pictures are drawn in a forked process while this one logs to MLflow
    with Aside(write_tables, result.to_df(), folder, background=track) as files:
        if track:
            spec = window if explicit is None else f"{len(windows)} explicit windows"
            options = {"window": spec, "stattest": stattest or "default", "min_rows": min_rows}
            with progress_tasks(progress) as task, store_errors(settings):
                log_monitor(result, settings, options, task("MLflow runs", len(results)))
        seconds["mlflow"] = time.perf_counter() - mark
        files.result()
    seconds["files"] = files.seconds
    seconds["total"] = time.perf_counter() - began
    write_summary(result, folder)
    if track:
        with store_errors(settings):
            finish_summary_run(result, settings)
    point_latest(folder.parent, folder, result.summary_run_id)
    return result


def with_live_traffic(
    frame: pd.DataFrame,
    log: pd.DataFrame,
    schema: DatasetSchema,
    *,
    reference_start: str,
    reference_end: str,
    window: str = "1W",
) -> tuple[pd.DataFrame, list[Window]]:
    """Put logged production traffic after the reference period, ready for :func:`run`.

    ``log`` is the service's prediction log as a frame (``modelmedic.service.store.
    read_prediction_log``): its rows become the monitored windows, the reference period
    of ``frame`` stays the reference. Unlabelled rows keep a missing target, so
    performance is computed where labels exist only.

    Returns:
        The combined frame and the windows covering the logged traffic.

    Raises:
        DataError: when the log holds no prediction.
    """
    import pandas as pd

    from modelmedic.windows import make_windows

    if log.empty:
        raise DataError("the prediction log holds no prediction yet: send some to POST /predict first")
    reference = select_period(frame, reference_start, reference_end)
    first, last = log.index.min().normalize(), log.index.max().normalize() + pd.Timedelta(days=1)
    if first < day_end(reference_end):
        raise DataError("the prediction log overlaps the reference period: choose an earlier --reference-end")
    columns = [c for c in reference.columns if c in log.columns or c == schema.target]
    traffic = log.reindex(columns=columns)
    combined = pd.concat([reference[columns], traffic]).sort_index(kind="stable")
    for col in schema.categorical:
        combined[col] = combined[col].astype("category")
    return combined, make_windows(first, last, window)
