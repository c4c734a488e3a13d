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

The package: :mod:`~modelmedic.monitor.job` (the job), :mod:`~modelmedic.monitor.results`
(its config and results), :mod:`~modelmedic.monitor.parallel` (windows measured over the
cores), :mod:`~modelmedic.monitor.runs` (the MLflow runs), :mod:`~modelmedic.monitor.reports`
(the report files), :mod:`~modelmedic.monitor.workspace` (the evidently-workspace export) and
:mod:`~modelmedic.monitor.traffic` (the service's logged traffic as windows).

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
and ``.png``, see :mod:`modelmedic.monitor.reports`); ``windows/window-NNN.html``: evidently reports.
"""

from modelmedic.monitor.job import monitored_frame, resolve_model, run
from modelmedic.monitor.results import MonitorConfig, MonitorResult, WindowResult
from modelmedic.monitor.traffic import with_live_traffic

__all__ = [
    "MonitorConfig",
    "MonitorResult",
    "WindowResult",
    "monitored_frame",
    "resolve_model",
    "run",
    "with_live_traffic",
]
