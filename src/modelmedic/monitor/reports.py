"""Pictures and files of a monitoring job, drawn from its tidy table.

The four pictures of the classic evidently tutorial, each as interactive HTML (plotly, with
plotly.js embedded so the page works offline) and as PNG (matplotlib), which MLflow's UI
shows inline:

- ``drift_flags``: which feature drifted in which window (features x windows);
- ``drift_scores``: the drift score of every feature in every window (heatmap);
- ``dataset_drift``: drifted features per window, coloured by the dataset-level verdict;
- ``drift_share``: the share of drifted features per window against the threshold.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.extras import require

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.monitor.results import MonitorResult

PICTURES = ("drift_flags", "drift_scores", "dataset_drift", "drift_share")
LATEST = "latest.json"
_DRIFT, _STABLE, _UNTESTED = "#d62728", "#2ca02c", "#c7c7c7"


def drift_matrix(table: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Features x windows of a tidy table's feature drift rows.

    Args:
        table: A monitor tidy table (:meth:`MonitorResult.to_df`).
        value: ``value`` for the scores, ``drifted`` for the flags (1.0, 0.0; NaN: untested).

    Returns:
        A frame indexed by feature (in table order) with one column per window label
        (windows without drift results, e.g. insufficient data, are columns of NaN).
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    labels = _window_labels(table)
    rows = table.loc[table["kind"] == "drift"]
    values = rows[value].astype("Float64").astype(float) if value == "drifted" else rows[value]
    wide = pd.DataFrame({"feature": rows["column"], "label": rows["label"], "v": values})
    features = list(dict.fromkeys(rows["column"]))
    matrix = wide.pivot_table(index="feature", columns="label", values="v", aggfunc="first", dropna=False)
    return matrix.reindex(index=features, columns=labels).astype(float)


def dataset_series(table: pd.DataFrame) -> pd.DataFrame:
    """Per window: ``label``, ``share``, ``drifted_columns``, ``drifted`` (1.0/0.0/NaN) and
    ``threshold`` (the drift share that makes the dataset drift)."""
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    labels = _window_labels(table)
    rows = table.loc[table["kind"] == "dataset"]
    share = rows.loc[rows["metric"] == "share"].set_index("label")
    count = rows.loc[rows["metric"] == "drifted_columns"].set_index("label")["value"]
    out = pd.DataFrame(index=pd.Index(labels, name="label"))
    out["share"] = share["value"].reindex(labels)
    out["drifted_columns"] = count.reindex(labels)
    out["drifted"] = share["drifted"].astype("Float64").astype(float).reindex(labels)
    out["threshold"] = share["threshold"].reindex(labels)
    return out.reset_index()


def _window_labels(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.sort_values("window", kind="stable")["label"]))


def _verdict_colors(flags: pd.Series) -> list[str]:
    return [_UNTESTED if math.isnan(f) else (_DRIFT if f else _STABLE) for f in flags]


def _short(labels: list[str]) -> list[str]:
    return [label.split("..")[0] for label in labels]


def plotly_figures(table: pd.DataFrame) -> dict[str, Any]:
    """The four pictures as plotly figures, by name (see :data:`PICTURES`)."""
    go = require("plotly.graph_objects", purpose="plotly (monitoring pictures)")

    flags, scores, series = (
        drift_matrix(table, "drifted"),
        drift_matrix(table),
        dataset_series(table),
    )
    x = _short(list(flags.columns))
    tests = ", ".join(sorted(table.loc[table["kind"] == "drift", "stattest"].dropna().unique()))
    figs: dict[str, Any] = {}
    figs["drift_flags"] = go.Figure(
        go.Heatmap(
            z=flags.to_numpy(),
            x=x,
            y=list(flags.index),
            zmin=0,
            zmax=1,
            xgap=1,
            ygap=1,
            colorscale=[[0, _STABLE], [0.5, _STABLE], [0.5, _DRIFT], [1, _DRIFT]],
            colorbar={"tickvals": [0.25, 0.75], "ticktext": ["no drift", "drift"]},
            hovertemplate="%{y} in %{x}: %{z}<extra></extra>",
        )
    )
    figs["drift_flags"].update_layout(title="Feature drift per window (grey: not tested)", plot_bgcolor=_UNTESTED)
    figs["drift_scores"] = go.Figure(
        go.Heatmap(
            z=scores.to_numpy(),
            x=x,
            y=list(scores.index),
            colorscale="Viridis",
            hovertemplate="%{y} in %{x}: %{z:.3g}<extra></extra>",
        )
    )
    figs["drift_scores"].update_layout(
        title=f"Drift score per feature and window ({tests}; p-values drift when low, distances when high)"
    )
    colors = _verdict_colors(series["drifted"])
    figs["dataset_drift"] = go.Figure(
        go.Bar(
            x=x,
            y=series["drifted_columns"],
            marker_color=colors,
            hovertemplate="%{x}: %{y} drifted features<extra></extra>",
        )
    )
    figs["dataset_drift"].update_layout(
        title="Dataset drift per window (red: the dataset drifts)", yaxis_title="drifted features"
    )
    figs["drift_share"] = go.Figure(go.Scatter(x=x, y=series["share"], mode="lines+markers", name="share"))
    threshold = series["threshold"].dropna()
    if not threshold.empty:
        figs["drift_share"].add_hline(
            y=float(threshold.iloc[0]),
            line_dash="dash",
            line_color=_DRIFT,
            annotation_text="dataset drift threshold",
        )
    figs["drift_share"].update_layout(
        title="Share of drifted features per window", yaxis={"title": "share", "range": [0, 1.02]}
    )
    for fig in figs.values():
        fig.update_layout(template="plotly_white", xaxis_title="window start")
    return figs


def _png_pictures(table: pd.DataFrame, folder: Path) -> list[Path]:

    matplotlib = require("matplotlib", purpose="matplotlib (monitoring pictures)")

    matplotlib.use("Agg", force=False)
    # lazy: plotting libraries, loaded only when the pictures are drawn
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import ListedColormap

    flags, scores, series = (
        drift_matrix(table, "drifted"),
        drift_matrix(table),
        dataset_series(table),
    )
    x = _short(list(flags.columns))
    n = len(x)
    width = min(max(8.0, 0.14 * n + 3), 30.0)
    step = max(1, math.ceil(n / 26))
    written = []

    def finish(fig: Any, ax: Any, name: str, title: str) -> None:
        ax.set_title(title)
        ax.set_xticks(range(0, n, step), x[::step], rotation=60, ha="right", fontsize=7)
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    for name, matrix, cmap, title in (
        (
            "drift_flags",
            flags,
            ListedColormap([_STABLE, _DRIFT]),
            "Feature drift per window (red: drift, grey: not tested)",
        ),
        ("drift_scores", scores, plt.get_cmap("viridis"), "Drift score per feature and window"),
    ):
        fig, ax = plt.subplots(figsize=(width, 0.35 * len(matrix) + 2.2))
        ax.set_facecolor(_UNTESTED)
        image = ax.imshow(
            np.ma.masked_invalid(matrix.to_numpy()),
            aspect="auto",
            cmap=cmap,
            interpolation="nearest",
            **({"vmin": 0, "vmax": 1} if name == "drift_flags" else {}),
        )
        ax.set_yticks(range(len(matrix)), list(matrix.index), fontsize=8)
        if name == "drift_scores":
            fig.colorbar(image, ax=ax, fraction=0.02)
        finish(fig, ax, name, title)

    fig, ax = plt.subplots(figsize=(width, 3.2))
    colors = _verdict_colors(series["drifted"])
    ax.bar(range(n), series["drifted_columns"].fillna(0), color=colors)
    ax.set_ylabel("drifted features")
    finish(fig, ax, "dataset_drift", "Dataset drift per window (red: the dataset drifts)")

    fig, ax = plt.subplots(figsize=(width, 3.2))
    ax.plot(range(n), series["share"], marker="o", markersize=3)
    threshold = series["threshold"].dropna()
    if not threshold.empty:
        ax.axhline(float(threshold.iloc[0]), color=_DRIFT, linestyle="--", label="dataset drift threshold")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share")
    finish(fig, ax, "drift_share", "Share of drifted features per window")
    return written


def write_pictures(table: pd.DataFrame, folder: Path, html: bool = True, png: bool = True) -> list[Path]:
    """Write the four pictures of ``table`` into ``folder`` as ``<name>.html`` and ``<name>.png``.

    Returns:
        The written files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if html:
        for name, fig in plotly_figures(table).items():
            path = folder / f"{name}.html"
            fig.write_html(path, include_plotlyjs=True, full_html=True)
            written.append(path)
    if png:
        written += _png_pictures(table, folder)
    return written


def write_tables(table: pd.DataFrame, folder: Path) -> list[Path]:
    """Write a monitoring job's tidy table (``results.parquet``, ``results.csv``) and, when it
    holds drift rows, the four pictures (HTML and PNG) into ``folder``.

    Returns:
        The written files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    table.to_parquet(folder / "results.parquet", index=False)
    table.to_csv(folder / "results.csv", index=False)
    written = [folder / "results.parquet", folder / "results.csv"]
    if (table["kind"] == "drift").any():
        written += write_pictures(table, folder)
    return written


def write_summary(result: MonitorResult, folder: Path) -> Path:
    """Write ``summary.json`` (:meth:`MonitorResult.to_dict`; NaN and infinities become null)."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = json.loads(json.dumps(result.to_dict(), default=str), parse_constant=lambda _: None)
    path = folder / "summary.json"
    path.write_text(json.dumps(summary, indent=2), "utf-8")
    return path


def point_latest(root: Path, folder: Path, run_id: str | None = None) -> Path:
    """Write ``root/latest.json`` naming ``folder`` (relative to ``root``) as the latest job."""
    pointer = root / LATEST
    body = {
        "folder": folder.name,
        "summary_run_id": run_id,
        "written": datetime.now(UTC).isoformat(),
    }
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=2), "utf-8")
    tmp.replace(pointer)
    return pointer


def latest_folder(root: Path) -> Path | None:
    """The folder named by ``root/latest.json``, or ``None`` when there is none yet."""
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    folder = root / json.loads(pointer.read_text("utf-8"))["folder"]
    return folder if folder.is_dir() else None
