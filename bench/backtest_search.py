"""The strategy search on the full hourly bike data: its front per budget, the grid, the hindsight limit.

Builds the model bank from scratch (a fresh cache folder), searches every family, and
prints for the budgets 7, 12, 25, 50 and 100 retrains: the grid of the issue that asked
for the search (quoted figures of an independent walk-forward), the same grid re-measured
on the bank (periods 1-26 weeks x sliding 4-52 weeks and expanding), the search's best,
and the best any schedule could have done knowing the future. With ``--label-delay 14D``
it searches twice, with and without the label-free ``estimated`` trigger. It also prints
how well the Direct Loss Estimation of the first model follows its realised MAE.

The issue's target, "within 2 % of the grid's best at every budget", is checked like for
like: the search against the same grid replayed on the same bank with the same model
(column "search vs grid"). The issue's own figures came from other model settings: the
model ``modelmedic train`` fits (HistGradientBoosting, 200 rounds at learning rate 0.05, 31
leaves, early stopping beyond 10 000 rows) where the backtest uses its cheaper
``BACKTEST_PARAMS`` (50 rounds at 0.2, 15 leaves, no early stopping). With
``--issue-settings`` the grid is replayed a second time on a bank of the trained model's
settings (about 4x the training time): within 0.3 % of the issue's table at 12 and 25
retrains, 1-3 % below it at 100 and 7.

Run: ``.venv/bin/python bench/backtest_search.py [--label-delay 14D] [--issue-settings]``
(bike data from ``MODELMEDIC_DATA_DIR``, else the user cache, else UCI: as users get them).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the issue's table: the best of an exhaustive periodic grid and of the old 22-strategy list
ISSUE_GRID = {7: 48.0, 12: 41.4, 25: 36.8, 100: 33.1}
ISSUE_LIST = {7: 65.1, 12: 63.1, 25: 38.6, 100: 34.1}
GRID_PERIODS = (1, 2, 4, 8, 13, 26)
GRID_WINDOWS = ("sliding:4W", "sliding:8W", "sliding:13W", "sliding:26W", "sliding:39W", "sliding:52W", "expanding")


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its finished children."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def grid_specs() -> list[str]:
    """The issue's exhaustive grid: every period with every training window, and never."""
    grid = [f"periodic:{p}W" + ("" if w == "expanding" else f"+{w}") for p in GRID_PERIODS for w in GRID_WINDOWS]
    return ["never", *grid]


def budget_rows(found, grid, budgets, issue_grid=None):
    rows = []
    for budget in budgets:
        best, grid_best = found.best_within(budget), grid.best_within(budget)
        limit = found.limit.at(budget)
        issue = ISSUE_GRID.get(budget)
        vs_grid = best.mae / grid_best.mae - 1
        mark = "✓" if vs_grid <= 0.02 else "✗"  # the issue's target: within 2 % of the grid's best
        same_settings = "–"
        if issue_grid is not None:
            same_settings = f"{issue_grid.best_within(budget).mae:.1f} ({issue_grid.best_within(budget).name})"
        rows.append(
            [str(budget), fmt(issue), fmt(ISSUE_LIST.get(budget)), same_settings,
             f"{grid_best.mae:.1f} ({grid_best.name})", f"{best.mae:.1f} ({best.name}, {best.retrains})",
             f"{vs_grid:+.1%} {mark}", f"{limit:.1f}", f"{best.mae - limit:.1f}"]
        )  # fmt: skip
    return rows


def issue_settings_grid(frame, schema, config, cache_dir):
    """The grid on a bank of the model ``modelmedic train`` fits (the issue's model settings)."""
    from dataclasses import replace

    from modelmedic.backtest.bank import ModelBank
    from modelmedic.backtest.search import search

    bank = ModelBank(frame, schema, replace(config, params={}), GRID_WINDOWS, cache_dir=cache_dir).build()
    return search(bank, specs=grid_specs())


def dle_quality(bank, simulator) -> list[list[str]]:
    """The first model's estimated vs realised MAE per quarter (where the estimate fails)."""
    import numpy as np

    from modelmedic.backtest.bank import REFERENCE

    estimates = simulator.first_model_estimates()
    start = bank.frame.index.searchsorted(bank.reference_cutoff)
    actual = bank.actual[start:]
    predicted = bank.predict(REFERENCE, start, len(bank.frame))
    quarters = bank.frame.index[start:].to_period("Q")
    rows = []
    for quarter in quarters.unique():
        chosen = np.asarray(quarters == quarter) & ~np.isnan(actual)
        realised, estimated = np.abs(predicted - actual)[chosen].mean(), estimates[chosen].mean()
        rows.append([str(quarter), f"{realised:.1f}", f"{estimated:.1f}", f"{estimated / realised:.0%}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--label-delay", default="0")
    parser.add_argument(
        "--issue-settings", action="store_true", help="also replay the grid with the issue's model settings"
    )
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from modelmedic.backtest import config_from_settings
    from modelmedic.backtest.bank import ModelBank
    from modelmedic.backtest.schedules import Simulator
    from modelmedic.backtest.search import BUDGETS, FAMILIES, search
    from modelmedic.config import Settings
    from modelmedic.data import load_bike
    from modelmedic.retraining.drift_cache import DriftCache
    from modelmedic.schema import builtin_schema

    data_dir = os.environ.get("MODELMEDIC_DATA_DIR")  # else the cache, else the verified download
    console = Console(width=260)  # full strategy names, never folded
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), data_dir=data_dir, tracking_uri=None)
        frame = load_bike("hour", data_dir, settings, progress=False)
        config = config_from_settings(settings, workers=args.workers, label_delay=args.label_delay)
        schema = builtin_schema("bike-hour")
        load_before, cpu_before, began = os.getloadavg()[0], cpu_seconds(), time.perf_counter()
        bank = ModelBank(frame, schema, config, cache_dir=Path(home) / "bank").build()
        built = time.perf_counter() - began
        found = search(bank)
        total, cpu = time.perf_counter() - began, cpu_seconds() - cpu_before
        grid = search(bank, specs=grid_specs())
        issue_grid = issue_settings_grid(frame, schema, config, Path(home) / "issue") if args.issue_settings else None
        without = None
        if args.label_delay not in {"0", "0D"}:
            without = search(bank, families=[f for f in FAMILIES if f != "estimated"])
        quality = dle_quality(bank, Simulator(bank, DriftCache(config.drift_engine, schema)))

    table = Table(title=f"best MAE within a retrain budget (label delay {args.label_delay})")
    for name in ["retrains ≤", "issue: grid", "issue: old list", "grid, issue's model", "grid on the bank",
                 "search (retrains)", "search vs grid (≤ +2 %)", "hindsight limit", "regret"]:  # fmt: skip
        table.add_column(name, justify="left" if "(" in name or "grid" in name[:4] else "right", no_wrap=True)
    for row in budget_rows(found, grid, BUDGETS, issue_grid):
        table.add_row(*row)
    console.print(table)
    console.print(
        "The issue's columns come from the model `modelmedic train` fits (200 rounds at 0.05, 31 leaves, early "
        f"stopping beyond 10 000 rows); the bank's model is {config.estimator_params}. Same features, reference "
        f"{config.reference_start}..{config.reference_end}, weekly windows, label delay {args.label_delay}.",
        highlight=False,
    )
    if without is not None:
        compare = Table(title=f"label delay {args.label_delay}: with and without the estimated-performance trigger")
        for name in ["retrains ≤", "with estimated", "without", "best estimated:* (retrains)", "limit"]:
            compare.add_column(name, justify="left" if name != "retrains ≤" else "right")
        estimated = [s for s in found.scored if s.name.startswith("estimated:")]
        for budget in BUDGETS:
            a, b = found.best_within(budget), without.best_within(budget)
            within = [s for s in estimated if s.retrains <= budget]
            e = min(within, key=lambda s: s.mae) if within else None
            shown = f"{e.mae:.2f} ({e.name}, {e.retrains})" if e else "–"
            compare.add_row(str(budget), f"{a.mae:.2f} ({a.name})", f"{b.mae:.2f} ({b.name})", shown,
                            f"{found.limit.at(budget):.2f}")  # fmt: skip
        console.print(compare)
    dle = Table(title="Direct Loss Estimation of the first model (trained on January 2011) vs its realised MAE")
    for name in ["quarter", "realised MAE", "estimated MAE", "estimate / realised"]:
        dle.add_column(name, justify="right")
    for row in quality:
        dle.add_row(*row)
    console.print(dle)
    console.print(f"recommendation: {found.why()}", highlight=False)
    console.print(
        f"{len(found.scored)} strategies x {len(bank.windows)} windows; bank: {len(bank.predictions)} models "
        f"trained in {built:.1f} s; search {found.seconds['search']:.1f} s; limit {found.seconds['limit']:.2f} s; "
        f"total {total:.1f} s wall, {cpu:.1f} CPU s; {config.workers} workers, os.cpu_count()={os.cpu_count()}, "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
        highlight=False,
    )


if __name__ == "__main__":
    main()
