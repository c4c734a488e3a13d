"""Cost of the evidently drift engine per weekly window of the bike data.

One evidently Report (11 ValueDrift metrics) per window against the January-2011
reference; prints the import cost, the per-window times and one HTML report's time.
Run: ``MODELMEDIC_DATA_DIR=path/to/bike-sharing python bench/evidently_engine.py``
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from modelmedic.config import get_settings
from modelmedic.data import load_bike
from modelmedic.drift import DriftOptions, get_engine
from modelmedic.schema import builtin_schema
from modelmedic.windows import select_period, windows_after

WINDOWS = 12


def main() -> None:
    settings = get_settings()
    bike = load_bike("hour", None, settings, progress=False)
    schema = builtin_schema("bike-hour")
    reference = select_period(bike, settings.reference_start, settings.reference_end)
    options = DriftOptions(numerical=tuple(schema.numerical), categorical=tuple(schema.categorical))

    started = time.perf_counter()
    import evidently  # noqa: F401

    print(f"import evidently: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    engine = get_engine("evidently", options).fit(reference)
    print(f"fit on {len(reference)} reference rows: {time.perf_counter() - started:.2f} s")

    windows = windows_after(bike, settings.reference_end, "1W")
    step = max(1, len(windows) // WINDOWS)
    timings = []
    for window in windows[::step][:WINDOWS]:
        current = window.slice(bike)
        started = time.perf_counter()
        result = engine.calculate(current)
        timings.append(time.perf_counter() - started)
        print(
            f"  {window.label}: {len(current)} rows, {result.n_drifted}/{len(result.tested)} drifted, "
            f"{timings[-1]:.3f} s"
        )
    print(
        f"per window ({len(options.columns)} features, one Report): median {statistics.median(timings):.3f} s, "
        f"min {min(timings):.3f} s, max {max(timings):.3f} s (first window includes warm-up)"
    )

    from modelmedic.drift.evidently_engine import render_html

    current = windows[0].slice(bike)
    with tempfile.TemporaryDirectory() as folder:
        for label in ("first", "second"):
            started = time.perf_counter()
            path = render_html(reference, current, options, Path(folder) / f"{label}.html")
            print(
                f"render_html ({label} call): {time.perf_counter() - started:.2f} s, {path.stat().st_size / 1e6:.1f} MB"
            )


if __name__ == "__main__":
    main()
