"""The ``spark`` drift engine on prediction logs of 1M, 10M and 50M rows, in ``local[2]``.

Synthetic Parquet logs (seeded, written by Spark, partitioned by day): 12 columns (9
numerical features: normal, lognormal, uniform, rounded with ties, integers; a numerical
prediction; 2 categorical features) over 52 weekly windows that drift a little more each
week, against a 100k-row reference. For each size, in a fresh process:

- ``spark``: every window of the log in one call (``calculate_windows``), wall time, rows/s,
  and the driver's peak memory: the Python process (``ru_maxrss``) and the Spark JVM
  (``VmHWM``; in local mode the JVM also runs the executors, so this is an upper bound of
  what a cluster driver needs).
- ``fast``: the same windows read into pandas and measured one by one (up to 10M rows), the
  largest score difference to ``spark`` and the verdicts that differ.
- ``evidently``: evidently 0.7's legacy ``SparkEngine`` (``DataDriftTable``) on the first
  window (1M rows only; it runs hundreds of Spark jobs per window): seconds a
  window and its score error against the exact value (which both other engines give).

Run: ``nice .venv/bin/python bench/spark_scale.py`` (``--sizes 1000000`` for a short run;
the logs are kept in ``--folder``, default a temporary folder named for the bench).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WEEKS = 52
REFERENCE_ROWS = 100_000
NUMERICAL = [*(f"x{i}" for i in range(9)), "prediction"]
CATEGORICAL = ["c0", "c1"]
START = "2024-01-01"


def session(memory: str = "2g") -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return (
        SparkSession.builder.master("local[2]")
        .appName("modelmedic-bench")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", "32")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def synthetic(spark: Any, rows: int, seed: int, weeks: int) -> Any:
    """``rows`` log rows spread evenly over ``weeks`` weeks; week ``w`` is shifted by ``w/weeks``."""
    from pyspark.sql import functions as F

    seconds = weeks * 7 * 86400
    stamp = F.timestamp_seconds(
        F.unix_timestamp(F.lit(START), "yyyy-MM-dd") + (F.col("id") * seconds / rows).cast("long")
    )
    shift = (F.col("id") * weeks / rows).cast("int") / WEEKS
    columns = [
        F.round(F.randn(seed) + shift, 3).alias("x0"),
        F.round(F.randn(seed + 1) * 2, 2).alias("x1"),
        F.exp(F.randn(seed + 2) * 0.5 + shift).alias("x2"),
        (F.rand(seed + 3) * (1 + shift)).alias("x3"),
        F.round(F.randn(seed + 4) * 5 + 20 + shift, 1).alias("x4"),
        F.floor(F.rand(seed + 5) * (100 + 20 * shift)).cast("long").alias("x5"),
        F.floor(F.rand(seed + 6) * 24).cast("long").alias("x6"),
        (F.randn(seed + 7) * 3 + shift * 2).alias("x7"),
        F.round(F.rand(seed + 8) * 40 - 10, 1).alias("x8"),
        F.round(F.exp(F.randn(seed + 9) * 0.8 + 5 + shift), 2).alias("prediction"),
        F.element_at(F.array(*map(F.lit, "abcde")), (F.floor(F.rand(seed + 10) ** (1 + shift) * 5) + 1).cast("int"))
        .alias("c0"),
        F.concat(F.lit("s"), F.floor(F.rand(seed + 11) * 12).cast("string")).alias("c1"),
    ]  # fmt: skip
    return spark.range(rows).select(stamp.alias("datetime"), *columns)


def write_log(folder: Path, rows: int) -> Path:
    """The log of ``rows`` rows as Parquet partitioned by day (written once, then reused)."""
    from pyspark.sql import functions as F

    path = folder / f"log-{rows}"
    if not (path / "_SUCCESS").exists():
        data = synthetic(session(), rows, 1, WEEKS).withColumn("day", F.to_date("datetime"))
        data.write.mode("overwrite").partitionBy("day").parquet(str(path))
    return path


def peak_jvm_mb() -> float:
    """Peak resident memory (VmHWM) of the Spark JVM started by this process."""
    for pid in os.listdir("/proc"):
        try:
            if not pid.isdigit() or int(Path(f"/proc/{pid}/stat").read_text().split()[3]) != os.getpid():
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "java" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            line = next(x for x in status.splitlines() if x.startswith("VmHWM"))
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(folder: Path, rows: int, engines: list[str]) -> dict[str, Any]:
    """One size in this process: write (or reuse) the log, then run the engines."""
    from pyspark.sql import functions as F

    from modelmedic.drift import DriftOptions, get_engine
    from modelmedic.drift.spark.engine import SparkEngine

    path = write_log(folder, rows)
    spark = session()
    reference = synthetic(spark, REFERENCE_ROWS, 2, 1).drop("datetime").toPandas()
    options = DriftOptions(numerical=tuple(NUMERICAL), categorical=tuple(CATEGORICAL))
    out: dict[str, Any] = {"rows": rows}
    log = spark.read.parquet(str(path))
    week = F.floor(F.datediff(F.col("datetime"), F.lit(START)) / 7)
    began = time.perf_counter()
    engine = SparkEngine(options, session=spark).fit(reference)
    results = engine.calculate_windows(log, week)
    out["spark_s"] = time.perf_counter() - began
    out["windows"] = len(results)
    out["python_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["jvm_mb"] = peak_jvm_mb()
    out["drifted_windows"] = sum(bool(r.drifted) for r in results.values())
    if "fast" in engines:
        out |= compare_fast(path, reference, options, results, get_engine)
    if "evidently" in engines:
        out |= compare_evidently(spark, log, reference, results)
    return out


def compare_fast(path: Path, reference: Any, options: Any, results: dict, get_engine: Any) -> dict[str, Any]:
    """The fast engine on the same windows (the log read into pandas): time and differences."""
    import pandas as pd

    began = time.perf_counter()
    frame = pd.read_parquet(path, columns=["datetime", *NUMERICAL, *CATEGORICAL])
    read = time.perf_counter() - began
    frame["week"] = ((frame["datetime"] - pd.Timestamp(START)).dt.days // 7).astype(int)
    fast = get_engine("fast", options).fit(reference)
    began = time.perf_counter()
    worst, flips = 0.0, 0
    for week, part in frame.groupby("week"):
        expected = fast.calculate(part)
        for column, found in results[int(week)].columns.items():
            want = expected.columns[column]
            flips += found.drifted != want.drifted or found.stattest != want.stattest
            if want.score is not None and found.score is not None:
                worst = max(worst, abs(found.score - want.score) / max(abs(want.score), 1e-12))
    return {"fast_s": time.perf_counter() - began, "fast_read_s": read, "max_rel_diff": worst, "flips": flips}


def compare_evidently(spark: Any, log: Any, reference: Any, results: dict, windows: int = 1) -> dict[str, Any]:
    """evidently's legacy SparkEngine on the first ``windows`` windows: seconds a window and
    its largest score error against the exact scores."""
    from evidently.legacy.metrics import DataDriftTable
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report
    from evidently.legacy.spark.engine import SparkEngine as EvidentlySpark
    from pyspark.sql import functions as F

    mapping = ColumnMapping(
        numerical_features=NUMERICAL, categorical_features=CATEGORICAL, target=None, prediction=None
    )
    ref = spark.createDataFrame(reference)
    week = F.floor(F.datediff(F.col("datetime"), F.lit(START)) / 7)
    errors: dict[str, float] = {}
    began = time.perf_counter()
    for w in range(windows):
        current = log.where(week == w).drop("datetime", "day")
        report = Report(metrics=[DataDriftTable()])
        report.run(reference_data=ref, current_data=current, column_mapping=mapping, engine=EvidentlySpark)
        found = report.as_dict()["metrics"][0]["result"]["drift_by_columns"]
        for column, value in found.items():
            exact = results[w].columns[column].score
            error = abs(value["drift_score"] - exact) / max(abs(exact), 1e-12)
            key = f"{value['stattest_name']}"
            errors[key] = max(errors.get(key, 0.0), error)
    return {"evidently_s_per_window": (time.perf_counter() - began) / windows, "evidently_rel_error": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000,50000000")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "modelmedic-spark-bench")
    parser.add_argument("--fast-max", type=int, default=10_000_000, help="Largest size the fast engine also runs.")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engines", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.folder, args.one, args.engines.split(","))), flush=True)
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    print(f"{'rows':>11} {'windows':>7} {'spark s':>8} {'rows/s':>10} {'python MB':>9} {'JVM MB':>7} "
          f"{'fast s':>7} {'max rel diff':>12} {'flips':>5}  evidently legacy")  # fmt: skip
    for rows in (int(s) for s in args.sizes.split(",")):
        engines = ["spark", *(["fast"] if rows <= args.fast_max else []), *(["evidently"] if rows <= 1_000_000 else [])]
        command = [sys.executable, __file__, "--one", str(rows), "--engines", ",".join(engines)]
        command += ["--folder", str(args.folder)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            print(f"{rows:>11,} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        fast = (
            f"{r['fast_s']:>7.1f} {r['max_rel_diff']:>12.1e} {r['flips']:>5}"
            if "fast_s" in r
            else f"{'–':>7} {'–':>12} {'–':>5}"
        )
        legacy = ""
        if "evidently_s_per_window" in r:
            errors = ", ".join(f"{k} {v:.1e}" for k, v in r["evidently_rel_error"].items())
            legacy = f"{r['evidently_s_per_window']:.1f} s/window; rel. error {errors}"
        print(f"{rows:>11,} {r['windows']:>7} {r['spark_s']:>8.1f} {rows / r['spark_s']:>10,.0f} "
              f"{r['python_mb']:>9.0f} {r['jvm_mb']:>7.0f} {fast}  {legacy}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
