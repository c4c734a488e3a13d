"""Pictures of a backtest: plotly HTML (offline) and matplotlib PNG (its tables are the CLI's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelmedic.backtest.engine import BacktestResult
from modelmedic.backtest.ranking import Ranking
from modelmedic.extras import require

HIGHLIGHTED = 5  # strategies drawn in the static error chart (plus never)


def _shown(ranking: Ranking) -> list[Any]:
    """The strategies drawn in static charts: the best few, and never for comparison."""
    rows = ranking.rows[:HIGHLIGHTED]
    rows += [r for r in ranking.rows[HIGHLIGHTED:] if r.name == "never"]
    return rows


def backtest_figures(result: BacktestResult, ranking: Ranking) -> list[Any]:
    """The error-over-time and Pareto figures (every strategy; the best few shown at first)."""
    go = require("plotly.graph_objects", purpose="plotly (backtest charts)")

    begins = [w.begin for w in result.windows]
    shown = {r.name for r in _shown(ranking)}
    errors = go.Figure()
    for i, row in enumerate(ranking.rows):
        color = f"hsl({(i * 137) % 360},65%,45%)"
        visible: Any = True if row.name in shown else "legendonly"
        errors.add_trace(
            go.Scatter(
                x=begins,
                y=row.run.window_mae,
                mode="lines",
                name=row.name,
                legendgroup=row.name,
                line={"color": color, "width": 1.5},
                visible=visible,
            )
        )
        points = row.run.retrain_points
        if points and not row.name.startswith("incremental"):
            errors.add_trace(
                go.Scatter(
                    x=[p.at for p in points],
                    y=[row.run.window_mae[p.window] for p in points],
                    mode="markers",
                    name=f"{row.name} retrains",
                    legendgroup=row.name,
                    showlegend=False,
                    visible=visible,
                    marker={"color": color, "size": 6, "symbol": "triangle-up"},
                    text=[p.reason for p in points],
                    hovertemplate="%{x}<br>retrain: %{text}<extra></extra>",
                )
            )
    errors.update_layout(
        title="MAE per window (triangles: retrains; click the legend to show more)",
        xaxis_title="window start",
        yaxis_title="MAE",
        template="plotly_white",
        height=520,
    )
    pareto = go.Figure()
    pareto.add_trace(
        go.Scatter(
            x=[r.run.retrains for r in ranking.rows],
            y=[r.run.mae for r in ranking.rows],
            mode="markers",
            name="strategies",
            text=[r.name for r in ranking.rows],
            marker={"color": "#999", "size": 8},
            hovertemplate="%{text}<br>retrains %{x}<br>MAE %{y:.2f}<extra></extra>",
        )
    )
    front = ranking.pareto
    pareto.add_trace(
        go.Scatter(
            x=[r.run.retrains for r in front],
            y=[r.run.mae for r in front],
            mode="lines+markers+text",
            name="Pareto front",
            text=[r.name for r in front],
            textposition="top right",
            marker={"color": "#1f77b4", "size": 9},
            line={"dash": "dot"},
        )
    )
    best = ranking.best
    pareto.add_trace(
        go.Scatter(
            x=[best.run.retrains],
            y=[best.run.mae],
            mode="markers",
            name=f"recommended: {best.name}",
            marker={"color": "#d62728", "size": 16, "symbol": "star"},
        )
    )
    pareto.update_layout(
        title=f"Error vs retrains (retrain cost {ranking.retrain_cost:.2f} MAE)",
        xaxis_title="retrains",
        yaxis_title="MAE",
        template="plotly_white",
        height=520,
    )
    return [errors, pareto]


def write_html(figures: list[Any], path: Path, title: str) -> Path:
    """Write ``figures`` into one self-contained HTML page (plotly.js embedded once)."""
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)]
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body>{''.join(parts)}</body></html>",
        encoding="utf-8",
    )
    return path


def write_pngs(result: BacktestResult, ranking: Ranking, folder: Path) -> list[Path]:
    """Draw ``errors.png`` and ``pareto.png`` with matplotlib (Agg) into ``folder``."""
    matplotlib = require("matplotlib", purpose="matplotlib (backtest charts)")

    matplotlib.use("Agg")
    # lazy: matplotlib is an optional extra
    import matplotlib.pyplot as plt

    begins = [w.begin for w in result.windows]
    fig, ax = plt.subplots(figsize=(11, 5), dpi=110)
    for row in _shown(ranking):
        (line,) = ax.plot(begins, row.run.window_mae, linewidth=1.3, label=row.name)
        points = row.run.retrain_points
        if points and not row.name.startswith("incremental"):
            ax.plot(
                [p.at for p in points],
                [row.run.window_mae[p.window] for p in points],
                "^",
                color=line.get_color(),
                markersize=4,
            )
    ax.set(title="MAE per window (triangles: retrains)", xlabel="window start", ylabel="MAE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    errors = folder / "errors.png"
    fig.savefig(errors)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    ax.scatter([r.run.retrains for r in ranking.rows], [r.run.mae for r in ranking.rows], color="#999", s=25)
    front = ranking.pareto
    ax.plot([r.run.retrains for r in front], [r.run.mae for r in front], "o:", color="#1f77b4", label="Pareto front")
    for r in front:
        ax.annotate(r.name, (r.run.retrains, r.run.mae), fontsize=7, xytext=(4, 4), textcoords="offset points")
    best = ranking.best
    ax.plot([best.run.retrains], [best.run.mae], "*", color="#d62728", markersize=16, label=f"recommended: {best.name}")
    ax.set(title=f"Error vs retrains (retrain cost {ranking.retrain_cost:.2f} MAE)", xlabel="retrains", ylabel="MAE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    pareto = folder / "pareto.png"
    fig.savefig(pareto)
    plt.close(fig)
    return [errors, pareto]
