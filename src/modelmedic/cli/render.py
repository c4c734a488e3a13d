"""Every printer of the command line: tables, summaries and messages on the console.

The library returns data; the commands pass it here. ``out`` (stdout) gets results and
``err`` (stderr) gets errors, progress and notes, so that ``--json`` output stays clean.
"""

from __future__ import annotations

import io
import json
import math
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelmedic.progress import progress_tasks
from modelmedic.secrets import masked

if TYPE_CHECKING:
    from collections.abc import Callable

out = Console(soft_wrap=True)
err = Console(stderr=True)


def status(message: str) -> AbstractContextManager[Any]:
    """A spinner with ``message`` on stderr while a long step runs (nothing off a terminal)."""
    return err.status(message)


def progress(enabled: bool | None = None) -> AbstractContextManager[Callable[[str, int], Callable[[int], None]]]:
    """Progress bars on stderr (see :func:`modelmedic.progress.progress_tasks`), drawn when
    ``enabled`` (default: when stderr is a terminal)."""
    return progress_tasks(err.is_terminal if enabled is None else enabled, err)


def print_error(message: str) -> None:
    """Print a user error as one line on stderr."""
    # one line whatever the message quotes (a library's multi-line error text)
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


def print_json(payload: Any) -> None:
    """Write ``payload`` as JSON to stdout (NaN becomes null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    sys.stdout.write(json.dumps(clean(payload), indent=2, default=str) + "\n")


def print_line(text: str, *, highlight: bool = False) -> None:
    """Print one line of results (rich markup) on stdout; numbers and paths are not
    highlighted unless ``highlight``."""
    out.print(text, highlight=highlight)


def print_note(text: str) -> None:
    """Print a note on stderr (where a server listens, where a report went), whole to copy."""
    err.print(text, highlight=False, soft_wrap=True)


def print_done(text: str) -> None:
    """Print a ✓ and what was done, on stdout."""
    out.print(f"[green]✓[/] {text}", highlight=False)


def print_version(version: str) -> None:
    """Print the version line of ``modelmedic --version``."""
    out.print(f"modelmedic {version}")


def print_interrupted() -> None:
    """Say that the command was interrupted (Ctrl+C)."""
    err.print("interrupted")


def print_data(summary: dict[str, Any]) -> None:
    """Show the data set's summary (``modelmedic data``) in one line."""
    out.print(
        f"[green]✓[/] {summary['rows']:,} rows of {summary['file']}, {summary['start']} to {summary['end']}, "
        f"SHA-256 verified, in {summary['folder']}"
    )


def print_training(result: Any) -> None:
    """Show a training result as a short table."""
    m = result.metrics
    table = Table(title="training", show_header=True)
    for col in ("set", "MAE", "RMSE", "R²", "MAPE"):
        table.add_column(col, justify="right" if col != "set" else "left")
    rows = (("train", "training period"), ("eval", "next weeks"), ("baseline", "hour-of-day mean, next weeks"))
    for prefix, label in rows:
        if f"{prefix}/mae" in m:
            table.add_row(
                label,
                f"{m[prefix + '/mae']:.1f}",
                f"{m[prefix + '/rmse']:.1f}",
                f"{m[prefix + '/r2']:.3f}",
                f"{m[prefix + '/mape']:.1%}",
            )
    out.print(table)
    version = f"version {result.version} (alias champion)" if result.version else "not registered"
    out.print(f"[green]✓[/] model {result.params['estimator']}: run {result.run_id}, {version}")


def print_drift(result: Any, non_finite: dict[str, dict[str, int]] | None = None) -> None:
    """Show a drift result as a table of columns and a one-line verdict, after the count of
    non-finite values (``inf``, ``-inf``) the tests left out, per file and column."""
    table = Table(
        title=f"drift: {result.current_rows:,} current rows vs {result.reference_rows:,} "
        f"reference rows ({result.engine} engine)"
    )
    for name in ("column", "type", "test", "score", "threshold", "drifted"):
        table.add_column(name, justify="right" if name in {"score", "threshold"} else "left")
    for c in result.columns.values():
        verdict = (
            "[bold red]yes[/]"
            if c.drifted
            else "no"
            if c.drifted is False
            else f"[yellow]untested:[/] {escape(c.error or '')}"
        )
        score = "–" if c.score is None else f"{c.score:.4g}"
        table.add_row(escape(c.column), c.column_type, c.stattest, score, f"{c.threshold:g}", verdict)
    out.print(table)
    for side, counts in (non_finite or {}).items():
        if counts:
            found = ", ".join(f"{escape(c)} {n:,}" for c, n in counts.items())
            out.print(
                f"[yellow]data quality[/]: the {side} data hold non-finite values (inf, -inf), "
                f"left out of the tests: {found}"
            )
    if result.drifted is None:
        out.print("[yellow]insufficient data[/]: no column could be tested, so there is no verdict")
        return
    label = "[bold red]dataset drift[/]" if result.drifted else "[green]no dataset drift[/]"
    out.print(
        f"{label}: {result.n_drifted} of {len(result.tested)} tested columns drifted "
        f"({result.share:.0%}; the data set drifts from {result.drift_share:.0%})"
    )


def print_monitor(result: Any) -> None:
    """Show a monitoring result: one row per window, then where to look next."""
    table = Table(
        title=f"monitor: {len(result.windows)} windows vs reference {result.reference_start}.."
        f"{result.reference_end} ({result.engine} engine)",
        box=box.SIMPLE_HEAD,
    )
    for name, width in {"window": 10, "share": 5, "drifted features": 24, "MAE": 5, "vs ref": 6, "verdict": 15}.items():
        table.add_column(
            name,
            justify="right" if name in {"share", "MAE", "vs ref"} else "left",
            no_wrap=True,
            min_width=width,
            max_width=width if name != "verdict" else None,
            overflow="ellipsis",
        )
    styles = {"ok": "green", "insufficient data": "yellow"}
    for w in result.windows:
        share = "–" if w.drift_share is None else f"{w.drift_share:.0%}"
        names = w.drift.drifted_columns if w.drift else []
        features = f"{len(names)}: {', '.join(names)}" if names else ("0" if w.drift else "–")
        mae, ratio = w.performance.get("mae"), w.performance.get("mae_ratio")
        table.add_row(
            f"{w.window.begin:%Y-%m-%d}",
            share,
            escape(features),
            "–" if mae is None else f"{mae:.1f}",
            "–" if ratio is None else f"{ratio:.2f}x",
            f"[{styles.get(w.verdict, 'bold red')}]{escape(w.verdict)}[/]",
        )
    out.print(table)
    counts = {v: sum(1 for w in result.windows if v in w.verdict) for v in ("drift", "degraded")}
    out.print(
        f"{counts['drift']} windows with dataset drift, {counts['degraded']} degraded; reference error: "
        f"MAE {result.reference_error.get('mae', float('nan')):.1f} on {result.reference_error_source}"
    )
    out.print(f"reports: {result.folder}", highlight=False)
    if result.summary_run_id:
        out.print(
            f"MLflow: experiment {result.experiment_id}, summary run {result.summary_run_id} "
            f"({masked(result.tracking_uri or '')})",
            highlight=False,
        )
    out.print("next: [bold]modelmedic ui[/] and open the summary run's charts (drift/*, drift_share, perf/mae)")


def print_workspace(export: Any, path: Path) -> None:
    """Say where the evidently workspace of a monitoring job went and how to open it."""
    print_note(
        f"evidently workspace: {export.snapshots} snapshots in project '{export.project_name}' at {path}; "
        f"see them with: evidently ui --workspace {path}"
    )


def ranking_table(ranking: Any, limit: int | None = None) -> Table:
    """A rich table of the strategies ranked by objective (the best ``limit`` rows)."""
    table = Table(title=f"strategies ranked by MAE + {ranking.retrain_cost:.2f} x retrains / {ranking.windows} windows")
    for name, justify in (
        ("#", "right"),
        ("strategy", "left"),
        ("MAE", "right"),
        ("RMSE", "right"),
        ("retrains", "right"),
        ("train s", "right"),
        ("objective", "right"),
        ("gap to best", "right"),
        ("Pareto", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in ranking.rows[:limit]:
        run = row.run
        style = "bold green" if row is ranking.best else None
        table.add_row(
            str(row.rank),
            row.name,
            f"{run.mae:.2f}",
            f"{run.rmse:.2f}",
            str(run.retrains),
            f"{run.train_seconds:.1f}",
            f"{row.objective:.2f}",
            f"{row.gap_to_best:+.2f}",
            "✓" if row.pareto else "",
            style=style,
        )
    return table


def search_table(found: Any) -> Table:
    """The searched Pareto front beside the hindsight limit, as a rich table."""
    table = Table(title=f"Pareto front of {len(found.scored)} searched strategies, and the hindsight limit")
    for name, justify in [("strategy", "left"), ("retrains", "right"), ("MAE", "right"),
                          ("limit (same retrains)", "right"), ("regret", "right")]:  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    best = found.recommendation
    for s in found.front:
        limit = found.limit.at(s.retrains)
        name = f"{s.name} (recommended)" if s is best else s.name
        table.add_row(name, str(s.retrains), f"{s.mae:.2f}", f"{limit:.2f}", f"{s.mae - limit:.2f}")
    return table


def print_wide(console: Console, renderable: Any, width: int = 120) -> None:
    """Print ``renderable`` on ``console``; off a terminal (logs, pipes) at least ``width`` wide."""
    if console.is_terminal or console.width >= width:
        console.print(renderable)
        return
    wide = Console(width=width, file=io.StringIO(), color_system=None)
    wide.print(renderable)
    console.print(wide.file.getvalue(), end="", markup=False, highlight=False, soft_wrap=True)  # type: ignore[attr-defined]


def print_backtest(outcome: Any, limit: int | None = None) -> None:
    """Show a finished backtest: ranked table, Pareto front, recommendation, files."""
    ranking, result = outcome.ranking, outcome.result
    if outcome.search is not None:
        print_wide(out, search_table(outcome.search))
        seconds = outcome.search.seconds
        print_line(
            f"model bank: {outcome.search.models} models ({outcome.search.trained} trained now, the rest cached) "
            f"in {seconds['bank']:.1f} s; search {seconds['search']:.1f} s; hindsight limit {seconds['limit']:.1f} s"
        )
    else:
        print_wide(out, ranking_table(ranking, limit))
    front = ", ".join(f"{r.name} ({r.run.mae:.1f}, {r.run.retrains})" for r in ranking.pareto)
    print_line(f"Pareto front (MAE, retrains): {front}")
    print_line(f"[bold]recommendation: {ranking.recommendation}[/]. {ranking.why}")
    print_line(
        f"{len(result.runs)} strategies x {len(result.windows)} windows in {result.seconds:.1f} s "
        f"({result.config.workers} workers); reports: {outcome.files['json'].parent}"
    )
    if outcome.run_id:
        print_line(f"MLflow: backtest run {outcome.run_id}")


def retrain_summary(decision: Any) -> str:
    """A retraining decision in a few readable lines."""
    head = "dry run, would " if decision.dry_run else ""
    verb = {"not-due": "not retrain", "keep": "keep the champion", "promote": "promote the challenger"}
    lines = [
        f"{head}{verb.get(decision.action, decision.action)}: {decision.why}",
        f"trigger ({decision.strategy}) at {decision.now}: {decision.reason}",
    ]
    if decision.challenger_mae is not None:
        lines.append(
            f"on {decision.eval_rows} labelled rows {decision.eval_start}..{decision.eval_end}: champion v"
            f"{decision.champion_version} MAE {decision.champion_mae:.2f}, challenger MAE "
            f"{decision.challenger_mae:.2f} ({decision.improvement:+.1%})"
        )
    if decision.promoted_version:
        lines.append(f"registered version {decision.promoted_version}, alias champion moved to it")
    if decision.run_id:
        lines.append(f"MLflow decision run {decision.run_id}")
    return "\n".join(lines)


def print_retrain(decision: Any) -> None:
    """Show a retraining decision (``modelmedic retrain``)."""
    out.print(retrain_summary(decision), highlight=False)


def print_rule(title: str) -> None:
    """A horizontal rule with ``title`` across stdout (the demo's head and foot)."""
    out.rule(title)
