"""Benchmark: the classic tutorial's monitoring loop against ``modelmedic monitor``.

Both run in this process on the same weekly windows of the bike data after the default
reference period (2011-01-01..2011-01-28), logging to a fresh sqlite MLflow store:

- the seed-style baseline: per window, one evidently Report per feature (``ValueDrift``)
  plus one ``DriftedColumnsCount`` report, then one ``mlflow.log_metric`` call per metric
  in a fluent ``mlflow.start_run``;
- ``modelmedic.monitor.run`` with ``html="none"`` (drift + performance + quality + MLflow
  logging + the report files), with the evidently engine and with the fast engine.

Imports (evidently, MLflow, scikit-learn, plotly, matplotlib) happen before any timing.
The script prints the times, the ratios against the targets (evidently engine >= 2.5x
faster than the baseline; fast engine >= 10x and under 5 s), MLflow's own cost per run,
and checks that every per-feature score equals the baseline's.

Usage (from the project root)::

    python bench/monitor.py            # the 101 weekly windows of 2011-2012
    python bench/monitor.py --quick    # the first 12 windows
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from serve import data_dir  # the sibling bench: MODELMEDIC_DATA_DIR, the cache, the download

ROOT = Path(__file__).resolve().parents[1]


def quiet() -> None:
    """Silence library logs and warnings (they would drown the figures)."""
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def baseline(frame, schema, model, windows, reference, tracking_uri: str) -> tuple[dict, dict]:
    """The classic loop. Returns ``(scores, seconds)``: scores by (window index, feature)."""
    import mlflow
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    from modelmedic.model import predict
    from modelmedic.performance import regression_metrics

    definition = DataDefinition(numerical_columns=list(schema.numerical), categorical_columns=list(schema.categorical))

    def dataset(part):
        return Dataset.from_pandas(part[schema.features].reset_index(drop=True), data_definition=definition)

    reference_data = dataset(reference)
    scores: dict[tuple[int, str], float] = {}
    counts: dict[int, tuple[float, float]] = {}
    metrics: dict[int, dict[str, float]] = {}
    began = time.perf_counter()
    for window in windows:
        current = window.slice(frame)
        current_data = dataset(current)
        values: dict[str, float] = {}
        for column in schema.features:
            snapshot = Report([ValueDrift(column=column)]).run(current_data, reference_data)
            result = snapshot.dict()["metrics"][0]
            score = float(result["value"])
            scores[(window.index, column)] = score
            values[f"drift/{column}"] = score
        snapshot = Report([DriftedColumnsCount(columns=schema.features)]).run(current_data, reference_data)
        count = snapshot.dict()["metrics"][0]["value"]
        counts[window.index] = (float(count["count"]), float(count["share"]))
        values["drifted_columns"], values["drift_share"] = counts[window.index]
        values["dataset_drift"] = float(values["drift_share"] >= 0.5)
        perf = regression_metrics(current[schema.target], predict(model, current, schema))
        values.update({f"perf/{k}": v for k, v in perf.items()})
        metrics[window.index] = values
    evidently_seconds = time.perf_counter() - began

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("baseline")
    began = time.perf_counter()
    logged = 0
    for window in windows:
        with mlflow.start_run(run_name=window.label):
            mlflow.log_param("begin", window.begin.isoformat())
            mlflow.log_param("end", window.end.isoformat())
            for key, value in metrics[window.index].items():
                if math.isfinite(value):
                    mlflow.log_metric(key, value)
                    logged += 1
    mlflow_seconds = time.perf_counter() - began
    return {"scores": scores, "counts": counts, "metrics_logged": logged}, {
        "evidently": evidently_seconds,
        "mlflow": mlflow_seconds,
        "total": evidently_seconds + mlflow_seconds,
    }


def compare_scores(found: dict, result) -> tuple[float, int, int]:
    """Largest absolute score difference, dataset counts that differ, score pairs compared."""
    worst, pairs, count_diffs = 0.0, 0, 0
    for window in result.windows:
        if window.drift is None:
            continue
        for column, drift in window.drift.columns.items():
            expected = found["scores"].get((window.window.index, column))
            if expected is None or drift.score is None:
                continue
            pairs += 1
            if math.isnan(expected) != math.isnan(drift.score):
                worst = math.inf
            elif not math.isnan(expected):
                worst = max(worst, abs(expected - drift.score))
        count, share = found["counts"][window.window.index]
        if count != window.drift.n_drifted or abs(share - (window.drift.share or 0.0)) > 1e-12:
            count_diffs += 1
    return worst, count_diffs, pairs


def main() -> int:
    """Run the benchmark and print its figures; exit 1 when scores differ."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the first 12 weekly windows")
    parser.add_argument("--engines", default="evidently,fast", help="engines to run, comma-separated")
    args = parser.parse_args()
    quiet()

    began = time.perf_counter()
    import evidently  # noqa: F401  (imports are not what is measured)
    import matplotlib
    import mlflow  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    matplotlib.use("Agg")
    import matplotlib.pyplot

    from modelmedic import monitor
    from modelmedic.config import Settings
    from modelmedic.data import load_bike
    from modelmedic.drift import ENGINE_MODULES, get_engine
    from modelmedic.drift.base import DriftOptions
    from modelmedic.model import train
    from modelmedic.schema import builtin_schema
    from modelmedic.windows import select_period, windows_after

    for name in ENGINE_MODULES:
        get_engine(name, DriftOptions(numerical=("x",)))  # import every engine now
    imports = time.perf_counter() - began

    home = Path(tempfile.mkdtemp(prefix="modelmedic-bench-"))
    data = data_dir()
    settings = Settings(home=home, data_dir=data)
    schema = builtin_schema("bike-hour")
    frame = load_bike("hour", data, settings, progress=False)
    reference = select_period(frame, settings.reference_start, settings.reference_end)
    model = train(reference, schema, "rf", seed=settings.seed)
    windows = windows_after(frame, settings.reference_end, "1W")
    if args.quick:
        windows = windows[:12]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bike data: {len(frame):,} rows; reference {settings.reference_start}..{settings.reference_end} "
        f"({len(reference)} rows); {len(windows)} weekly windows; {os.cpu_count()} cores; "
        f"load average {load:.1f}; imports took {imports:.1f} s (not counted)"
    )
    sys.stdout.flush()

    found, base = baseline(frame, schema, model, windows, reference, settings.resolved_tracking_uri)
    runs = len(windows)
    print(
        f"\nbaseline (report per feature per window, log_metric per metric): {base['total']:.1f} s = "
        f"evidently {base['evidently']:.1f} s + MLflow {base['mlflow']:.1f} s "
        f"({base['mlflow'] / runs * 1000:.0f} ms per run, {found['metrics_logged'] / runs:.0f} metrics each)"
    )
    sys.stdout.flush()

    targets = {"evidently": (2.5, None), "fast": (10.0, 5.0)}
    failed = False
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if engine not in ENGINE_MODULES:
            print(f"\n{engine}: no such engine, skipped")
            continue
        began = time.perf_counter()
        result = monitor.run(
            frame, schema, model=model, settings=settings, windows=windows, engine=engine, html="none", progress=False
        )
        seconds = time.perf_counter() - began
        s = result.seconds
        after = seconds - s["total"]  # summary.json, the summary run's artifacts
        other = s["total"] - s["prepare"] - s["drift"] - s["html"] - s["mlflow"]
        ratio = base["total"] / seconds
        minimum, ceiling = targets[engine]
        verdict = "meets" if ratio >= minimum and (ceiling is None or seconds < ceiling) else "MISSES"
        worst, count_diffs, pairs = compare_scores(found, result)
        same = worst <= 1e-9 and count_diffs == 0
        failed |= not same
        print(
            f"\nmodelmedic monitor --engine {engine} --html none: {seconds:.1f} s = prepare {s['prepare']:.1f} s "
            f"+ drift/performance/quality {s['drift']:.1f} s + MLflow {s['mlflow']:.1f} s "
            f"({s['mlflow'] / (runs + 1) * 1000:.0f} ms per run, {runs} window runs + 1 summary run) "
            f"+ other {other:.1f} s (stopping the workers, waiting for the pictures) "
            f"+ summary artifacts {after:.1f} s"
        )
        print(
            f"  tables/pictures took {s['files']:.1f} s in a second process, during the MLflow logging; "
            f"MLflow is {s['mlflow'] / seconds:.0%} of the wall time"
        )
        print(
            f"  speed-up over the baseline: {ratio:.1f}x (target >= {minimum:g}x"
            f"{f' and < {ceiling:g} s' if ceiling else ''}: {verdict})"
        )
        print(
            f"  drift + performance + quality alone: {base['evidently'] / max(s['drift'], 1e-9):.1f}x the speed of "
            "the baseline's evidently loop"
        )
        print(
            f"  scores: {pairs} feature x window pairs, largest difference {worst:.2e}, dataset counts "
            f"differing in {count_diffs} windows: {'identical' if same else 'DIFFERENT'}"
        )
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
