/* modelmedic dashboard: fetches /dashboard/data.json and draws every section with plotly.js.
   Every chart has a title, axis titles and a text alternative (aria-label and a visually
   hidden summary); clicking a window in a chart or in the windows table opens its report. */
"use strict";

(function () {
  const COLORS = {
    drift: "#c0392b", ok: "#1e8449", untested: "#b8bec8", accent: "#1f5fae",
    target: "#7d3c98", prediction: "#d35400", reference: "#5b6575", strategy: "#16a085",
  };
  const CONFIG = {
    responsive: true, displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  };
  const BASE_LAYOUT = {
    margin: { l: 60, r: 16, t: 78, b: 50 },
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12 },
    paper_bgcolor: "#fff", plot_bgcolor: "#fff", hovermode: "closest",
    legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: 11 } },
  };
  let windowsByIndex = new Map();

  // ---- small helpers --------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmt = (v, digits = 1) => (isNum(v) ? v.toFixed(digits) : "–");
  const pct = (v) => (isNum(v) ? `${Math.round(v * 100)} %` : "–");
  const day = (iso) => (iso ? String(iso).slice(0, 10) : "–");
  const mean = (xs) => { const v = xs.filter(isNum); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };

  function toast(message) {
    const node = document.getElementById("toast");
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { node.hidden = true; }, 5000);
  }

  function table(headers, rows, options = {}) {
    const cls = (h) => [h.num ? "num" : "", h.wrap ? "wrap" : ""].join(" ").trim() || null;
    const head = el("tr", {}, headers.map((h) => el("th", { scope: "col", class: cls(h), text: h.label })));
    const body = rows.map((row) => {
      const tr = el("tr", row.attrs || {}, row.cells.map((cell, i) => {
        const content = cell instanceof Node ? cell : String(cell ?? "–");
        return el("td", { class: cls(headers[i]) }, content);
      }));
      return tr;
    });
    return el("table", { "aria-label": options.label || null }, el("thead", {}, head), el("tbody", {}, body));
  }

  function link(url, text) {
    return url ? el("a", { href: url, target: "_blank", rel: "noopener", text }) : el("span", { class: "muted", text: "–" });
  }

  function badge(verdict) {
    const v = verdict || "none";
    const kind = v.includes("drift") ? "drift" : v.includes("degraded") ? "degraded" : v === "ok" ? "ok" : "none";
    return el("span", { class: `badge ${kind}`, text: v });
  }

  // ---- charts ---------------------------------------------------------------------
  function chart(id, traces, layout, summary, onClick) {
    const node = document.getElementById(id);
    const title = layout.title;
    node.setAttribute("role", "img");
    node.setAttribute("aria-label", `${title}. ${summary}`);
    node.setAttribute("aria-describedby", `${id}-desc`);
    document.getElementById(`${id}-desc`).textContent = summary;
    const full = Object.assign({}, BASE_LAYOUT, layout, { title: { text: title, x: 0.01, xanchor: "left" } });
    Plotly.newPlot(node, traces, full, CONFIG);
    if (onClick) node.on("plotly_click", (event) => event.points.length && onClick(event.points[0]));
  }

  function axis(title, extra) { return Object.assign({ title: { text: title }, automargin: true, zeroline: false }, extra || {}); }

  function openWindow(index) {
    const w = windowsByIndex.get(Number(index));
    if (!w) return;
    if (w.report_url) window.open(w.report_url, "_blank", "noopener");
    else if (w.run_url) window.open(w.run_url, "_blank", "noopener");
    else toast(`No evidently report for ${w.label}: run 'modelmedic monitor --html all' to write one for every window.`);
  }
  const clickWindow = (point) => openWindow(Array.isArray(point.customdata) ? point.customdata[0] : point.customdata);

  // ---- sections -------------------------------------------------------------------
  // a retrain decision run (modelmedic.retraining.decision): tags decision/reason/why/strategy/promoted_version, params now
  const decisionWhy = (r) => [r.tags.why, r.tags.reason ? `trigger ${r.tags.strategy || ""}: ${r.tags.reason}` : null].filter(Boolean).join("; ");

  function renderModel(model, retrains, served) {
    const box = document.getElementById("model-body");
    if (!model) return;
    const promotion = retrains.find((r) => r.tags.decision === "promote" && String(r.tags.promoted_version) === model.version);
    const why = promotion
      ? `retrain decision: ${decisionWhy(promotion)}`
      : (model.description || `trained by 'modelmedic train' on ${model.training.start} … ${model.training.end}`);
    const when = promotion
      ? `${promotion.started || model.created} (data up to ${day(promotion.params.now)})`
      : (model.created || "–");
    const facts = el("dl", { class: "facts" },
      el("dt", { text: "Champion" }), el("dd", {}, `${model.name} version ${model.version} `, link(model.run_url, "MLflow run")),
      el("dt", { text: "Estimator" }), el("dd", { text: [model.estimator, model.kind && `(${model.kind})`].filter(Boolean).join(" ") || "–" }),
      el("dt", { text: "Training period" }), el("dd", { text: `${model.training.start || "–"} … ${model.training.end || "–"}${model.training.rows ? `, ${model.training.rows.toLocaleString()} rows` : ""}` }),
      el("dt", { text: "Champion since" }), el("dd", { text: when }),
      el("dt", { text: "Why" }), el("dd", { text: why }),
      ...(served ? [el("dt", { text: "Served now" }), el("dd", { text: `version ${served.version} (${served.uri}), loaded ${served.loaded_at}` })] : []),
      el("dt", { text: "Versions" }), el("dd", { text: model.versions.map((v) => `v${v.version}${v.aliases.length ? ` (${v.aliases.join(", ")})` : ""}`).join(", ") || "–" }),
    );
    const parts = [["train", "training period"], ["eval", "next weeks (held out)"], ["baseline", "hour-of-day baseline"]];
    const measured = parts.filter(([key]) => Object.keys(model.metrics[key] || {}).length);
    let metrics;
    if (measured.length || !promotion) {
      metrics = [el("h3", { text: "Training metrics" }), table(
        [{ label: "measured on" }, { label: "MAE", num: true }, { label: "RMSE", num: true }, { label: "R²", num: true }],
        measured.map(([key, label]) => ({
          cells: [label, fmt(model.metrics[key].mae), fmt(model.metrics[key].rmse), fmt(model.metrics[key].r2, 3)],
        })),
        { label: "Training metrics" },
      )];
    } else {  // promoted by a retrain decision: its champion-vs-challenger comparison
      const m = promotion.metrics;
      metrics = [el("h3", { text: "At promotion" }), table(
        [{ label: "held-out rows" }, { label: "model" }, { label: "MAE", num: true }],
        [{ cells: [`${day(promotion.params.eval_start)} … ${day(promotion.params.eval_end)} (${m.eval_rows ?? "–"} rows)`, "challenger (now champion)", fmt(m.challenger_mae, 2)] },
          { cells: ["", `previous champion v${promotion.params.champion_version || "?"}`, fmt(m.champion_mae, 2)] }],
        { label: "Champion against challenger at promotion" },
      )];
    }
    box.replaceChildren(el("div", { class: "model-grid" }, facts, el("div", {}, ...metrics)));
  }

  function renderDrift(monitor) {
    const ws = monitor.windows;
    const x = ws.map((w) => w.begin);
    const cells = ws.map((w) => day(w.begin));  // the heatmap's columns: one per window, evenly spaced
    const ids = ws.map((w) => w.index);
    const m = monitor.matrix;
    const features = monitor.features;
    const hover = features.map((f, i) => ws.map((w, j) => [w.index, m.score[i][j], m.stattest[i][j] || "not tested", m.drifted[i][j] ? "drift" : m.drifted[i][j] === false ? "no drift" : "not tested"]));
    const marks = { x: [], y: [], customdata: [] };
    features.forEach((f, i) => ws.forEach((w, j) => { if (m.drifted[i][j]) { marks.x.push(cells[j]); marks.y.push(f); marks.customdata.push([w.index]); } }));
    const drifted = (i) => m.drifted[i].filter(Boolean).length;
    const ranked = features.map((f, i) => [f, drifted(i)]).sort((a, b) => b[1] - a[1]);
    chart("chart-drift-heatmap", [
      { type: "heatmap", x: cells, y: features, z: m.strength, customdata: hover, zmin: -2, zmax: 6, zmid: 0, xgap: 1, ygap: 1,
        colorscale: [[0, "#2166ac"], [0.25, "#f7f7f7"], [0.5, "#f4a582"], [1, "#b2182b"]],
        colorbar: { title: { text: "drift strength", side: "right" }, thickness: 12 },
        hovertemplate: "%{y}, window from %{x}<br>score %{customdata[1]:.3g} (%{customdata[2]})<br>%{customdata[3]}<extra></extra>",
        name: "drift strength" },
      { type: "scatter", mode: "markers", x: marks.x, y: marks.y, customdata: marks.customdata, name: "drifted",
        marker: { symbol: "x-thin", size: 7, line: { width: 1.5, color: "#222" } }, hoverinfo: "skip", showlegend: false },
    ], {
      title: "Feature drift per window",
      xaxis: axis("window start", { type: "category", nticks: 12, tickangle: -45 }),
      yaxis: axis("feature", { autorange: "reversed", type: "category" }),
    }, `${features.length} features over ${ws.length} windows, ${marks.x.length} drifted cells. `
       + `Most often drifted: ${ranked.slice(0, 3).map(([f, n]) => `${f} (${n} windows)`).join(", ")}. `
       + "× marks a drifted feature; colour: how far the test score lies past its threshold (log10), red above 0.", clickWindow);

    const shares = ws.map((w) => w.drift_share);
    const colors = ws.map((w) => (w.dataset_drifted ? COLORS.drift : w.dataset_drifted === false ? COLORS.ok : COLORS.untested));
    const nDrift = ws.filter((w) => w.dataset_drifted).length;
    chart("chart-drift-share", [
      { type: "bar", x, y: shares, customdata: ids, marker: { color: colors }, name: "share of drifted features",
        hovertemplate: "window of %{x|%Y-%m-%d}: %{y:.0%} of features drifted<extra></extra>" },
    ], {
      title: "Dataset drift share per window",
      xaxis: axis("window start", { type: "date" }), yaxis: axis("share of drifted features", { range: [0, 1.02], tickformat: ".0%" }),
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: monitor.drift_share, y1: monitor.drift_share, line: { color: COLORS.drift, dash: "dash", width: 1.5 }, layer: "above" }],
      annotations: [{ xref: "paper", x: 1, xanchor: "right", y: monitor.drift_share, yanchor: "bottom", showarrow: false, text: `threshold ${pct(monitor.drift_share)}`, font: { color: COLORS.drift }, bgcolor: "rgba(255,255,255,0.85)" }],
      showlegend: false,
    }, `The data set drifts in ${nDrift} of ${ws.length} windows (red bars reach the ${pct(monitor.drift_share)} threshold line). `
       + `Mean share of drifted features: ${pct(mean(shares))}.`, clickWindow);

    const series = [["target", COLORS.target], ["prediction", COLORS.prediction]].map(([key, color]) => ({
      type: "scatter", mode: "lines+markers", name: `${key} drift`, x, customdata: ids,
      y: ws.map((w) => (w[key] ? w[key].strength : null)),
      line: { color, width: 1.5 },
      marker: { size: ws.map((w) => (w[key] && w[key].drifted ? 8 : 4)), color },
      hovertemplate: `${key}, window of %{x|%Y-%m-%d}: strength %{y:.2f}<extra></extra>`,
    }));
    const count = (key) => ws.filter((w) => w[key] && w[key].drifted).length;
    chart("chart-output-drift", series, {
      title: "Target and prediction drift",
      xaxis: axis("window start", { type: "date" }), yaxis: axis("drift strength (0 = threshold)"),
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { color: COLORS.drift, dash: "dash", width: 1.5 }, layer: "above" }],
    }, `The target (rentals) drifts in ${count("target")} windows and the model's predictions in ${count("prediction")} of ${ws.length}; `
       + "points above the dashed line drifted.", clickWindow);
  }

  function renderPerformance(monitor, backtest, retrains) {
    const ws = monitor.windows;
    const x = ws.map((w) => w.begin);
    const ref = monitor.reference.mae;
    const traces = [{
      type: "scatter", mode: "lines+markers", name: `champion v${(monitor.model && monitor.model.version) || "?"}, never retrained`,
      x, y: ws.map((w) => w.mae), customdata: ws.map((w) => [w.index, w.mae_ratio]),
      line: { color: COLORS.accent, width: 2 }, marker: { size: 4 },
      hovertemplate: "window of %{x|%Y-%m-%d}: MAE %{y:.1f} (%{customdata[1]:.2f}× reference)<extra></extra>",
    }];
    const shapes = [];
    let retrainText = "";
    const best = backtest && backtest.strategies.find((s) => s.recommended);
    if (best && best.window_mae && backtest.windows) {
      const bx = backtest.windows.map((w) => w.begin);
      traces.push({ type: "scatter", mode: "lines", name: `with retraining: ${best.name}`, x: bx, y: best.window_mae,
        line: { color: COLORS.strategy, width: 1.5 }, hovertemplate: `${best.name}, window of %{x|%Y-%m-%d}: MAE %{y:.1f}<extra></extra>` });
      const points = best.retrain_points || [];
      traces.push({ type: "scatter", mode: "markers", name: "retrain (backtest)", x: points.map((p) => p.at),
        y: points.map((p) => (best.window_mae[p.window] ?? null)), text: points.map((p) => p.reason || "retrain"),
        marker: { symbol: "triangle-up", size: 10, color: COLORS.strategy, line: { color: "#fff", width: 1 } },
        hovertemplate: "retrain before %{x|%Y-%m-%d}: %{text}<extra></extra>" });
      retrainText = ` The recommended strategy ${best.name} retrains ${points.length} times (triangles) for a MAE of ${fmt(best.mae)}.`;
    }
    const promotions = retrains.filter((r) => r.tags.decision === "promote" && r.params.now);
    promotions.forEach((r) => shapes.push({ type: "line", x0: r.params.now, x1: r.params.now, yref: "paper", y0: 0, y1: 1,
      line: { color: COLORS.drift, dash: "dot", width: 1.5 } }));
    if (promotions.length) retrainText += ` Dotted lines: ${promotions.length} promotion(s) by 'modelmedic retrain' (${promotions.map((r) => `v${r.tags.promoted_version} on ${day(r.params.now)}`).join(", ")}).`;
    if (isNum(ref)) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: ref, y1: ref, line: { color: COLORS.reference, dash: "dash", width: 1.5 } });
    }
    const maes = ws.map((w) => w.mae).filter(isNum);
    const worst = ws.filter((w) => isNum(w.mae)).sort((a, b) => b.mae - a.mae)[0];
    chart("chart-mae", traces, {
      title: "MAE per window",
      xaxis: axis("window start", { type: "date" }), yaxis: axis("MAE (rentals per hour)", { rangemode: "tozero" }),
      shapes,
      annotations: isNum(ref) ? [{ xref: "paper", x: 0, xanchor: "left", y: ref, yanchor: "bottom", showarrow: false, text: `reference MAE ${fmt(ref)}`, font: { color: COLORS.reference }, bgcolor: "rgba(255,255,255,0.85)" }] : [],
    }, `The champion's MAE ranges from ${fmt(Math.min(...maes))} to ${fmt(Math.max(...maes))} (reference ${fmt(ref)}, `
       + `measured on ${monitor.reference.error_source || "the reference"}); worst window ${worst ? `${worst.label} at ${fmt(worst.mae)}` : "–"}.${retrainText}`,
    (point) => point.curveNumber === 0 && clickWindow(point));

    const latest = ws.filter((w) => w.segments && w.segments.length).slice(-4).reverse();
    if (latest.length) {
      const rows = latest.flatMap((w) => w.segments.map((s) => ({
        cells: [`week of ${day(w.begin)}`, `${s.segment}=${s.value}`, s.rows, fmt(s.mae), fmt(s.reference_mae), isNum(s.mae_ratio) ? `${s.mae_ratio.toFixed(1)}×` : "–"],
      })));
      document.getElementById("segments").replaceChildren(table(
        [{ label: "window" }, { label: "segment" }, { label: "rows", num: true }, { label: "MAE", num: true }, { label: "reference MAE", num: true }, { label: "vs reference", num: true }],
        rows, { label: "Worst segments of the latest windows" }));
    }
  }

  // --search: the hindsight limit (best schedule knowing the future) beside the front
  function searchTraces(search, pareto) {
    if (!search || !search.limit) return [];
    const most = Math.max(...pareto.map((s) => s.cost), 1);
    const limit = search.limit.filter((p) => p.retrains <= most && isNum(p.mae));
    return [{ type: "scatter", mode: "lines", name: "hindsight limit", x: limit.map((p) => p.retrains), y: limit.map((p) => p.mae),
      line: { color: COLORS.untested, dash: "dot", shape: "hv" }, hovertemplate: "best possible with %{x} retrains: MAE %{y:.1f}<extra></extra>" }];
  }

  function searchCaption(search) {
    const rec = search.recommendation || {};
    return `${search.candidates} strategies searched on a bank of ${search.models} models; `
      + `the dotted line is the best any schedule could have done knowing the future `
      + `(the recommendation's regret: ${fmt(rec.regret)} MAE). `;
  }

  function renderBacktest(backtest) {
    if (!backtest) return;
    document.getElementById("backtest-body").hidden = false;
    const rec = backtest.recommendation || {};
    document.getElementById("recommendation").replaceChildren(
      el("h3", { text: `Recommendation: ${rec.name || rec.strategy || "–"}` }),
      el("p", { text: rec.why || rec.text || "" }),
    );
    const list = backtest.strategies;
    const pareto = list.filter((s) => s.pareto).sort((a, b) => a.cost - b.cost);
    chart("chart-pareto", [
      { type: "scatter", mode: "markers", name: "strategy", x: list.map((s) => s.cost), y: list.map((s) => s.mae), text: list.map((s) => s.name),
        marker: { color: COLORS.untested, size: 8 }, hovertemplate: "%{text}: MAE %{y:.1f}, %{x} retrains<extra></extra>" },
      { type: "scatter", mode: "lines+markers", name: "Pareto front", x: pareto.map((s) => s.cost), y: pareto.map((s) => s.mae), text: pareto.map((s) => s.name),
        line: { color: COLORS.accent, shape: "hv" }, marker: { color: COLORS.accent, size: 9 }, hovertemplate: "%{text}: MAE %{y:.1f}, %{x} retrains<extra></extra>" },
      { type: "scatter", mode: "markers", name: "recommended", x: list.filter((s) => s.recommended).map((s) => s.cost),
        y: list.filter((s) => s.recommended).map((s) => s.mae), text: list.filter((s) => s.recommended).map((s) => s.name),
        marker: { symbol: "star", size: 16, color: COLORS.strategy, line: { color: "#fff", width: 1 } }, hovertemplate: "%{text} (recommended)<extra></extra>" },
      ...searchTraces(backtest.search, pareto),
    ], {
      title: "Error vs retraining cost",
      xaxis: axis(backtest.cost_label || "retrains"), yaxis: axis("backtest MAE"),
    }, (backtest.search ? searchCaption(backtest.search) : `${list.length} strategies replayed; `)
       + `${pareto.length} on the Pareto front (${pareto.map((s) => s.name).join(", ")}). `
       + `Recommended: ${rec.name || rec.strategy || "none"}.`);
    const never = list.find((s) => s.name === "never");
    document.getElementById("strategies").replaceChildren(table(
      [{ label: "rank", num: true }, { label: "strategy" }, { label: "MAE", num: true }, { label: "vs never", num: true }, { label: "retrains", num: true }, { label: "train s", num: true }],
      list.map((s) => ({
        attrs: { class: s.recommended ? "recommended" : null },
        cells: [s.rank ?? "–", s.name + (s.pareto ? " ◆" : ""), fmt(s.mae), never && isNum(s.mae) ? `${fmt((s.mae / never.mae - 1) * 100, 0)} %` : "–",
          s.retrains ?? "–", fmt(s.train_seconds, 1)],
      })), { label: "Backtested strategies, best first (◆: on the Pareto front)" }));
  }

  function renderDecisions(retrains) {
    if (!retrains.length) return;
    document.getElementById("decisions").replaceChildren(table(
      [{ label: "decided" }, { label: "data up to" }, { label: "strategy" }, { label: "decision" }, { label: "why", wrap: true }, { label: "MLflow" }],
      retrains.slice(0, 10).map((r) => ({
        cells: [r.started || "–", day(r.params.now), r.tags.strategy || "–",
          r.tags.decision === "promote" ? `promote → v${r.tags.promoted_version || "?"}` : (r.tags.decision || r.name || "–"),
          decisionWhy(r) || "–", link(r.run_url, "run")],
      })), { label: "Retrain decisions, newest first" }));
  }

  function renderLive(live) {
    if (!live) return;
    document.getElementById("live").hidden = false;
    document.getElementById("nav-live").hidden = false;
    const tiles = document.getElementById("live-tiles");
    if (live.error) { tiles.replaceChildren(el("p", { class: "muted", text: live.error })); return; }
    const tile = (value, label) => el("div", { class: "tile" }, el("div", { class: "value", text: value }), el("div", { class: "label", text: label }));
    const drift = live.drift || {};
    const driftTile = (key, label) => {
      const d = drift[key];
      if (!d) return tile("–", `${label}: ${live.drift_problem || "no reference"}`);
      return tile(d.drifted ? "drift" : d.drifted === false ? "no drift" : "no data",
        `${label}: ${d.rows} rows, ${pct(d.share)} of features drifted${d.drifted_features.length ? ` (${d.drifted_features.join(", ")})` : ""}`);
    };
    tiles.replaceChildren(
      tile(live.rows.toLocaleString(), "predictions, last 7 days"),
      tile(pct(live.labelled_share), "received a label"),
      tile(fmt(live.mae), "MAE of labelled predictions"),
      driftTile("last_24h", "last 24 h vs reference"),
      driftTile("last_7d", "last 7 days vs reference"),
    );
    const hours = live.per_hour.map((h) => h.hour);
    chart("chart-live", [
      { type: "bar", name: "predictions", x: hours, y: live.per_hour.map((h) => h.predictions), marker: { color: COLORS.accent } },
      { type: "bar", name: "labelled", x: hours, y: live.per_hour.map((h) => h.labelled), marker: { color: COLORS.ok } },
    ], {
      title: "Predictions per hour", barmode: "overlay",
      xaxis: axis("hour (UTC)", { type: "date" }), yaxis: axis("predictions"),
    }, `${live.rows} predictions in ${live.per_hour.length} hours since ${day(live.since)}, ${pct(live.labelled_share)} labelled.`);
  }

  function renderWindows(monitor) {
    const rows = monitor.windows.map((w) => ({
      attrs: { class: "clickable", tabindex: "0", "data-window": w.index, title: `Open the evidently report of ${w.label}`,
        onclick: (event) => { if (!event.target.closest("a")) openWindow(w.index); },
        onkeydown: (event) => { if (event.key === "Enter") openWindow(w.index); } },
      cells: [w.label, w.rows, badge(w.verdict), pct(w.drift_share), w.drifted_features.join(", ") || "–", fmt(w.mae),
        isNum(w.mae_ratio) ? `${w.mae_ratio.toFixed(2)}×` : "–", link(w.report_url, "evidently"), link(w.run_url, "MLflow")],
    }));
    document.getElementById("windows-table").replaceChildren(table(
      [{ label: "window" }, { label: "rows", num: true }, { label: "verdict" }, { label: "drift share", num: true }, { label: "drifted features", wrap: true },
        { label: "MAE", num: true }, { label: "vs reference", num: true }, { label: "report" }, { label: "run" }],
      rows, { label: "Monitored windows: click a row to open its evidently report" }));
  }

  function render(data) {
    const problems = document.getElementById("problems");
    problems.replaceChildren(...data.problems.map((p) => el("p", { text: p })));
    const monitor = data.monitor;
    const model = data.model;
    document.getElementById("subtitle").textContent = [
      model ? `champion ${model.name} v${model.version}` : "no champion yet",
      monitor ? `${monitor.windows.length} windows monitored (${monitor.engine} engine), reference ${monitor.reference.start} … ${monitor.reference.end}` : null,
    ].filter(Boolean).join(" · ");
    document.getElementById("footer").replaceChildren(`Generated ${data.generated}. `, link(data.mlflow_ui, "MLflow UI"),
      monitor && monitor.summary_run_url ? " · " : "", monitor && monitor.summary_run_url ? link(monitor.summary_run_url, "monitoring run") : "");
    renderModel(model, data.retrains || [], data.served);
    renderDecisions(data.retrains || []);
    if (monitor && monitor.windows.length) {
      windowsByIndex = new Map(monitor.windows.map((w) => [w.index, w]));
      renderDrift(monitor);
      renderPerformance(monitor, data.backtest, data.retrains || []);
      renderWindows(monitor);
    }
    renderBacktest(data.backtest);
    renderLive(data.live);
    document.body.dataset.ready = "true";
  }

  async function main() {
    try {
      const response = await fetch("/dashboard/data.json", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      render(await response.json());
    } catch (error) {
      document.getElementById("problems").replaceChildren(el("p", { text: `Cannot load the dashboard data: ${error.message}` }));
      document.body.dataset.ready = "error";
    }
  }

  main();
})();
