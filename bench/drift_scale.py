"""Speed and memory of the ``fast`` drift engine against the ``evidently`` engine.

Part 1: synthetic data (seeded), 12 numerical columns, reference and current of N rows
each; one run = fit on the reference + calculate on the current ("seconds"; "calc s" is
the calculate step alone, the cost of every further window; "cpu s" the CPU time of
both steps, all threads: wall times suffer when other jobs share the cores). Each run happens in
its own subprocess, which reports the wall time of the drift step and its peak RSS
(``resource.getrusage`` maxrss); "data" is the RSS once the frames are built (and
evidently imported, for its engine), so "drift MB" = peak - data is what drift cost on
top. The largest size is also run from Parquet files read one column at a time
(``fit_parquet`` / ``calculate_parquet``), without frames.

Part 2: the weekly windows of the bike data (11 features), fit once, calculate per window.

Run: ``.venv/bin/python bench/drift_scale.py`` (``--quick`` for a smaller run; the bike
data come from ``MODELMEDIC_DATA_DIR``, else the user cache, else UCI: as users get them).
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

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = 12
SEED = 20110101


def synthetic(rows: int, seed: int, shift: float) -> pd.DataFrame:
    """``rows`` x 12 numerical columns: normal, skewed, uniform, rounded (ties), integers.

    Built column by column, so building costs little memory beyond the frame itself.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=pd.RangeIndex(rows))
    for i in range(COLUMNS):
        kind = i % 6
        if kind in (0, 1):
            values = rng.normal(shift * (i % 3), 1.0, rows)
        elif kind == 2:
            values = rng.lognormal(shift, 0.5, rows)
        elif kind == 3:
            values = rng.uniform(0, 1 + shift, rows)
        elif kind == 4:
            values = np.round(rng.normal(20 + shift, 5, rows), 1)
        else:
            values = rng.integers(0, 100 + int(shift * 20), rows)
        frame[f"x{i}"] = values
    return frame


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_mb() -> float:
    """Resident memory of this process now, in MB (the peak where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return peak_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One measured run (in a subprocess): build the data, then fit + calculate."""
    from modelmedic.drift import DriftOptions, get_engine

    options = DriftOptions(numerical=tuple(f"x{i}" for i in range(COLUMNS)))
    engine = get_engine(spec["engine"], options)
    if spec["engine"] == "evidently":
        import evidently  # noqa: F401  (its import is not part of the drift step)
    if spec.get("parquet"):
        folder = Path(spec["parquet"])
        data = resident_mb()
        started, cpu = time.perf_counter(), time.process_time()
        engine.fit_parquet(folder / "reference.parquet")
        fitted = time.perf_counter()
        result = engine.calculate_parquet(folder / "current.parquet")
    else:
        reference = synthetic(spec["rows"], SEED, 0.0)
        current = synthetic(spec["rows"], SEED + 1, 0.05)
        data = resident_mb()
        started, cpu = time.perf_counter(), time.process_time()
        engine.fit(reference)
        fitted = time.perf_counter()
        result = engine.calculate(current)
    ended, cpu = time.perf_counter(), time.process_time() - cpu
    scores = {c: d.score for c, d in result.columns.items()}
    return {
        "seconds": ended - started,
        "calculate": ended - fitted,
        "cpu": cpu,
        "data_mb": data,
        "peak_mb": peak_mb(),
        "scores": scores,
    }


def measure(engine: str, rows: int, parquet: Path | None = None) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return what it measured."""
    spec = {"engine": engine, "rows": rows, "parquet": str(parquet) if parquet else None}
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{engine} on {rows} rows failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_parquet(rows: int, folder: Path) -> Path:
    synthetic(rows, SEED, 0.0).to_parquet(folder / "reference.parquet")
    synthetic(rows, SEED + 1, 0.05).to_parquet(folder / "current.parquet")
    return folder


def largest_difference(a: dict[str, float], b: dict[str, float]) -> float:
    """Largest relative difference between two engines' scores."""
    return max(abs(a[c] - b[c]) / max(abs(b[c]), 1e-300) for c in b)


def scale_table(sizes: list[int], evidently_max: int) -> None:
    print(f"Synthetic: reference N rows + current N rows, {COLUMNS} numerical columns (default tests)")
    header = (
        f"{'rows':>10} {'engine':>10} {'seconds':>9} {'calc s':>7} {'cpu s':>7} {'data MB':>9} {'peak MB':>9}"
        f" {'drift MB':>9} {'speed-up':>9} {'max rel diff':>13}"
    )
    print(header)
    print("-" * len(header))
    for rows in sizes:
        fast = measure("fast", rows)
        evidently = measure("evidently", rows) if rows <= evidently_max else None
        runs = [("fast", fast)] + ([("evidently", evidently)] if evidently else [])
        for name, run in runs:
            speedup = f"{evidently['seconds'] / fast['seconds']:8.1f}x" if evidently and name == "fast" else ""
            diff = (
                f"{largest_difference(fast['scores'], evidently['scores']):13.1e}"
                if evidently and name == "fast"
                else ""
            )
            print(
                f"{rows:>10,} {name:>10} {run['seconds']:9.2f} {run['calculate']:7.2f} {run['cpu']:7.2f} "
                f"{run['data_mb']:9.0f} "
                f"{run['peak_mb']:9.0f} {run['peak_mb'] - run['data_mb']:9.0f} {speedup:>9} {diff:>13}"
            )
    rows = sizes[-1]
    with tempfile.TemporaryDirectory() as folder:
        parquet = measure("fast", rows, write_parquet(rows, Path(folder)))
    print(
        f"{rows:>10,} {'fast/pq':>10} {parquet['seconds']:9.2f} {parquet['calculate']:7.2f} {parquet['cpu']:7.2f} "
        f"{parquet['data_mb']:9.0f} "
        f"{parquet['peak_mb']:9.0f} {parquet['peak_mb'] - parquet['data_mb']:9.0f}   (Parquet, column by column)"
    )


def bike_table(evidently_windows: int | None) -> None:
    from modelmedic.config import get_settings
    from modelmedic.data import load_bike
    from modelmedic.drift import DriftOptions, get_engine
    from modelmedic.schema import builtin_schema
    from modelmedic.windows import select_period, windows_after

    settings = get_settings()
    bike = load_bike("hour", None, settings, progress=False)  # MODELMEDIC_DATA_DIR, the cache, the download
    schema = builtin_schema("bike-hour")
    reference = select_period(bike, settings.reference_start, settings.reference_end)
    windows = windows_after(bike, settings.reference_end, "1W")
    currents = [w.slice(bike) for w in windows]
    options = DriftOptions(numerical=tuple(schema.numerical), categorical=tuple(schema.categorical))
    print(
        f"\nBike data: {len(windows)} weekly windows x {len(options.columns)} features, "
        f"reference {len(reference)} rows (fit once, calculate per window)"
    )
    print(
        f"{'engine':>10} {'windows':>8} {'fit s':>8} {'total s':>9} {'cpu s':>7} {'ms/window':>10} "
        f"{'2-year monitor s':>17}"
    )
    import evidently  # noqa: F401  (imports are not timed: both engines pay them once)
    import scipy.spatial.distance
    import scipy.stats  # noqa: F401

    per_window = {}
    for name in ("fast", "evidently"):
        count = len(currents) if name == "fast" or evidently_windows is None else evidently_windows
        engine = get_engine(name, options)
        started = time.perf_counter()
        engine.fit(reference)
        fit = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        for current in currents[:count]:
            engine.calculate(current)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        per_window[name] = total / count
        projected = fit + per_window[name] * len(currents)
        note = "" if count == len(currents) else " (projected)"
        print(
            f"{name:>10} {count:>8} {fit:8.3f} {total:9.2f} {cpu:7.2f} {1000 * per_window[name]:10.1f} "
            f"{projected:17.2f}{note}"
        )
    print(f"speed-up per window: {per_window['evidently'] / per_window['fast']:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows; 10 bike windows for evidently")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-bike", action="store_true", help="skip the bike windows")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000, 5_000_000]
    scale_table(sizes, evidently_max=100_000 if args.quick else 1_000_000)
    if not args.no_bike:
        bike_table(10 if args.quick else None)


if __name__ == "__main__":
    main()
