"""``modelmedic demo``: the whole story on the bike data, every step of modelmedic in one
command (data, training, monitoring, backtest and the advice to act on)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from modelmedic.cli import render
from modelmedic.cli.app import command
from modelmedic.cli.options import DataOption, settings_from
from modelmedic.logs import quiet_libraries

if TYPE_CHECKING:
    from modelmedic.config import Settings

# a week whose MAE exceeds this multiple of the reference error counts as degraded
DEGRADED_RATIO = 1.5


@command("demo")
def demo_command(
    ctx: typer.Context,
    data: DataOption = None,
) -> None:
    """Run the whole story on the bike data: data, training, diagnosis, retraining advice.

    Example: `MODELMEDIC_DATA_DIR=./bike-sharing modelmedic demo`
    """
    quiet_libraries()
    run_demo(settings_from(ctx), data)


def run_demo(settings: Settings, data: Path | None) -> None:
    """Load the data, train and register the champion, monitor it week by week, backtest
    retraining strategies, then print the recommendation and what to run next.

    Raises:
        ModelmedicError: from the step that failed (data, tracking store, model).
    """
    # lazy: the steps import pandas, scikit-learn and mlflow
    from modelmedic import monitor
    from modelmedic.data import load_dataset
    from modelmedic.monitor.runs import experiment_name
    from modelmedic.training import data_source_label, train_and_register

    began = time.perf_counter()
    with render.status("[1/4] loading and verifying the data…"):
        frame, schema = load_dataset(data, None, settings, progress=False)
    render.print_rule("modelmedic demo: UCI Bike Sharing, hourly, 2011-2012")
    render.print_line(
        f"[1/4] data: {len(frame):,} hourly rows, {frame.index.min():%Y-%m-%d} to {frame.index.max():%Y-%m-%d}",
        highlight=True,
    )
    with render.status("[2/4] training the champion on the reference period…"):
        result = train_and_register(frame, schema, settings=settings, source=data_source_label(data, settings))
    m = result.metrics
    render.print_line(
        f"[2/4] model: {result.params['estimator']} trained on {result.params['reference_start']}.."
        f"{result.params['reference_end']}; next 4 weeks MAE {m['eval/mae']:.1f} "
        f"(hour-of-day baseline {m['baseline/mae']:.1f}); registered as version {result.version}, alias champion",
        highlight=True,
    )
    with render.status("[3/4] monitoring the champion week by week: drift, performance, data quality…"):
        watched = monitor.run(
            frame, schema, settings=settings, window="1W", html="none", max_error_ratio=DEGRADED_RATIO
        )
    weeks = watched.windows
    drifted = sum(1 for w in weeks if w.drift is not None and w.drift.drifted)
    degraded = sum(1 for w in weeks if "degraded" in w.verdict)
    worst = max((w for w in weeks if "mae" in w.performance), key=lambda w: w.performance["mae"])
    render.print_line(
        f"[3/4] monitor: {len(weeks)} weeks after the reference; dataset drift in {drifted}, error above "
        f"{DEGRADED_RATIO:g}x the reference in {degraded} "
        f"(worst {worst.window.label}: MAE {worst.performance['mae']:.0f}, "
        f"{worst.performance['mae_ratio']:.1f}x); {len(weeks) + 1} MLflow runs in experiment "
        f"'{experiment_name(settings, watched.model_uri)}', reports in {watched.folder}",
        highlight=True,
    )
    recommended = backtest_step(frame, schema, settings)
    render.print_rule(f"done in {time.perf_counter() - began:.0f} s")
    render.print_line(
        "next: [bold]modelmedic ui[/] to browse the runs in MLflow: open the monitor experiment's summary "
        "run for drift/*, drift_share and perf/mae over time; [bold]modelmedic monitor --html drifted[/] "
        "adds evidently's report to every drifting week",
        highlight=True,
    )
    render.print_line(f"act on the backtest: [bold]modelmedic retrain -s {recommended} --dry-run[/]")


def backtest_step(frame: Any, schema: Any, settings: Settings) -> str:
    """Backtest the default grid of retraining strategies, show the ranking; return the recommended one.

    Raises:
        ModelmedicError: from the backtest (data, tracking store, charts extra).
    """
    # lazy: the backtest imports pandas and scikit-learn
    from modelmedic.backtest import DEFAULT_GRID, backtest_and_report, config_from_settings, replay_steps

    config = config_from_settings(settings)
    render.print_line(
        f"[4/4] backtest: replaying {len(DEFAULT_GRID)} retraining strategies week by week (no look-ahead)…",
        highlight=True,
    )
    with render.progress() as task:
        advance = task("backtesting strategy-windows", replay_steps(frame, None, config))
        outcome = backtest_and_report(frame, schema, None, config, settings, progress=advance)
    render.print_backtest(outcome)
    return outcome.ranking.recommendation
