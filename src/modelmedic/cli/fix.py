"""Commands of the README's "Fix" step: ``backtest`` (which retraining strategy would have
served the history best) and ``retrain`` (apply one now: decide, train, compare, promote)."""

from __future__ import annotations

from typing import Annotated

import typer

from modelmedic.cli import render
from modelmedic.cli.app import command
from modelmedic.cli.options import (
    DataOption,
    EngineOption,
    JsonOption,
    KindOption,
    ReferenceEndOption,
    ReferenceStartOption,
    SchemaOption,
    date_value,
    load_data,
    settings_from,
)
from modelmedic.errors import ConfigError
from modelmedic.logs import quiet_libraries

StrategyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Strategy spec, repeatable: never, periodic:4W, drift:0.5, drift:temp,hum, "
        "performance:1.3, cusum:4, estimated:1.5 (label-free), each optionally +expanding, +sliding:8W "
        "or +recency:4W; incremental:mlp, incremental:sgd. Default (backtest): a grid of 22.",
    ),
]
LabelDelayOption = Annotated[
    str, typer.Option("--label-delay", help="How long after an hour its target is known: 0 (default), 12H, 7D…")
]
WindowOption = Annotated[str, typer.Option("--window", help="Window length: 1D, 1W (default), 2W, 1M…")]


@command("backtest")
def backtest_command(
    ctx: typer.Context,
    data: DataOption = None,
    schema: SchemaOption = None,
    strategy: StrategyOption = None,
    window: WindowOption = "1W",
    label_delay: LabelDelayOption = "0",
    retrain_cost: Annotated[
        float | None,
        typer.Option(
            "--retrain-cost",
            min=0.0,
            help="Cost of one retrain in MAE units (extra MAE during one window); "
            "objective = MAE + cost x retrains / windows. Default: 5% of never retraining's MAE.",
        ),
    ] = None,
    kind: KindOption = "hgb",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes running strategies in parallel.")] = 2,
    reference_start: ReferenceStartOption = None,
    reference_end: ReferenceEndOption = None,
    engine: EngineOption = None,
    search: Annotated[
        bool,
        typer.Option(
            "--search",
            help="Search the strategy space (every family x parameter x training window) on a model bank, "
            "with the Pareto front and the hindsight limit, instead of replaying a list.",
        ),
    ] = False,
    max_retrains: Annotated[
        int | None,
        typer.Option("--max-retrains", min=0, help="With --search: recommend the lowest MAE within N retrains."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the history window by window to find the best retraining strategy (no look-ahead).

    Each strategy decides at every window boundary, from the labels known then, whether to
    retrain; the deployed model predicts the next window before its labels exist. Ranks the
    strategies by error + retrain cost, shows the Pareto front, writes backtest.json and
    charts to MODELMEDIC_HOME/reports/backtest/latest and logs everything to MLflow.
    --search trains every (training window, retrain week) model once and searches about 460
    strategies on them, with the best any schedule could have done (the hindsight limit).

    Example: `modelmedic backtest -s never -s periodic:4W -s drift:0.5+sliding:8W --label-delay 7D`
    or `modelmedic backtest --search --max-retrains 12`
    """
    quiet_libraries()
    # lazy: the backtest imports pandas and scikit-learn
    from modelmedic.backtest import (
        backtest_and_report,
        config_from_settings,
        parse_strategies,
        replay_steps,
        search_and_report,
    )

    settings = settings_from(ctx)
    if search and strategy:
        raise ConfigError("give either --search or strategies with -s, not both")
    if max_retrains is not None and not search:
        raise ConfigError("--max-retrains needs --search")
    parse_strategies(strategy)  # a bad spec fails before the data load
    frame, dataset = load_data(settings, data, schema)
    config = config_from_settings(
        settings,
        window=window,
        label_delay=label_delay,
        kind=kind,
        workers=workers,
        reference_start=reference_start,
        reference_end=reference_end,
        drift_engine=engine,
    )
    with render.progress() as task:
        if search:
            outcome = search_and_report(
                frame, dataset, config, settings, retrain_cost=retrain_cost, max_retrains=max_retrains, tasks=task
            )
        else:
            advance = task("backtesting strategy-windows", replay_steps(frame, strategy, config))
            outcome = backtest_and_report(
                frame, dataset, strategy, config, settings, retrain_cost=retrain_cost, progress=advance
            )
    if as_json:
        render.print_json(outcome.document)
        return
    render.print_backtest(outcome)


@command("retrain")
def retrain_command(
    ctx: typer.Context,
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", help="The strategy to apply, e.g. periodic:4W+recency:4W (see backtest).")
    ],
    data: DataOption = None,
    schema: SchemaOption = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            callback=date_value,
            help="Simulate 'now': use only the data up to this day (inclusive). Default: all.",
        ),
    ] = None,
    window: WindowOption = "1W",
    label_delay: LabelDelayOption = "0",
    min_improvement: Annotated[
        float,
        typer.Option(
            "--min-improvement",
            min=0.0,
            help="Promote the challenger only if its MAE is lower by this fraction (0.02: 2%).",
        ),
    ] = 0.02,
    eval_windows: Annotated[
        int,
        typer.Option(
            "--eval-windows",
            min=1,
            help="Recent labelled windows the champion and challenger are compared on "
            "(held out from the challenger's training).",
        ),
    ] = 1,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Challenger model: hgb or rf. Default: the champion's kind.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Train a challenger even if no trigger fired.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would happen; change nothing (no registry change, no MLflow run)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Decide whether retraining is due, train a challenger and promote it if it beats the champion.

    The strategy's trigger decides (and says why); the challenger is trained on the strategy's
    training set and compared with the champion on the latest labelled window(s); the registry
    alias 'champion' moves only if the challenger is better by --min-improvement. Every
    decision is logged as an MLflow run.

    Example: `modelmedic retrain -s performance:1.2+sliding:8W --until 2011-06-30 --dry-run`
    """
    quiet_libraries()
    # lazy: retraining imports pandas, scikit-learn and mlflow
    from modelmedic.retraining.decision import retrain

    settings = settings_from(ctx)
    frame, dataset = load_data(settings, data, schema)
    with render.status(f"applying {strategy}…"):
        decision = retrain(
            frame,
            dataset,
            strategy,
            settings=settings,
            until=until,
            window=window,
            label_delay=label_delay,
            min_improvement=min_improvement,
            eval_windows=eval_windows,
            kind=kind,
            force=force,
            dry_run=dry_run,
        )
    if as_json:
        render.print_json(decision.to_dict())
        return
    render.print_retrain(decision)
