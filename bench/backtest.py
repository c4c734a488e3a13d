"""Time the default backtest grid on the full hourly bike data (2 years, weekly windows).

Prints the replay's wall time, the CPU seconds of this process and of the worker
processes (wall times suffer when other jobs share the cores; CPU seconds do not), the
time of the reports and MLflow logging, and the ranked table.

Run: ``.venv/bin/python bench/backtest.py`` (``--workers 1`` for one process; the bike
data come from ``MODELMEDIC_DATA_DIR``, else the user cache, else UCI: as users get them).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished children."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kind", default="hgb")
    args = parser.parse_args()

    from rich.console import Console

    from modelmedic.backtest import DEFAULT_GRID, config_from_settings, parse_strategies, rank, run_backtest
    from modelmedic.backtest.report import backtest_document, log_backtest, write_reports
    from modelmedic.cli.render import ranking_table
    from modelmedic.config import Settings
    from modelmedic.data import load_bike
    from modelmedic.schema import builtin_schema

    data_dir = os.environ.get("MODELMEDIC_DATA_DIR")  # else the cache, else the verified download
    console = Console(width=130)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), data_dir=data_dir, tracking_uri=None)
        frame = load_bike("hour", data_dir, settings, progress=False)
        config = config_from_settings(settings, workers=args.workers, kind=args.kind)
        strategies = parse_strategies(DEFAULT_GRID)
        cpu_before = cpu_seconds()
        began = time.perf_counter()
        result = run_backtest(frame, builtin_schema("bike-hour"), strategies, config)
        replay = time.perf_counter() - began
        cpu_after = cpu_seconds()
        began = time.perf_counter()
        ranking = rank(result)
        files = write_reports(
            result, ranking, settings.reports_dir / "backtest" / "latest", backtest_document(result, ranking)
        )
        reports = time.perf_counter() - began
        began = time.perf_counter()
        log_backtest(result, ranking, files, settings)
        logging = time.perf_counter() - began

    main_cpu, worker_cpu = (after - before for after, before in zip(cpu_after, cpu_before, strict=True))
    trained = sum(r.train_seconds for r in result.runs)
    console.print(ranking_table(ranking))
    console.print(f"recommendation: {ranking.recommendation}. {ranking.why}", highlight=False)
    console.print(
        f"\n{len(strategies)} strategies x {len(result.windows)} weekly windows, {len(frame):,} hourly rows, "
        f"{config.kind} {config.estimator_params}, {config.workers} worker processes, drift engine "
        f"{config.drift_engine}, os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}\n"
        f"replay: {replay:.1f} s wall; CPU {main_cpu:.1f} s main process + {worker_cpu:.1f} s workers "
        f"= {main_cpu + worker_cpu:.1f} s\n"
        f"training CPU s summed over strategies (shared models counted per strategy): {trained:.1f}\n"
        f"reports (JSON, HTML, PNG): {reports:.1f} s; MLflow logging (1 + {len(strategies)} runs): {logging:.1f} s",
        highlight=False,
    )


if __name__ == "__main__":
    main()
