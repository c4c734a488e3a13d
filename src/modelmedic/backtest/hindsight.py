"""The hindsight limit: the best schedule with at most ``k`` retrains, knowing the future.

A schedule cuts the windows into segments: the reference model serves until the first
retrain, then each retrain's model serves until the next. With the model bank's error of
every model in every window, the best schedule for every budget is a dynamic program over
windows::

    best[0][e] = reference error of windows [0, e)
    best[k][e] = min over s < e of best[k-1][s] + min over W of error of model (W, s) on [s, e)

``O(K x T^2 x |W|)`` additions: milliseconds for two years of weeks. No real strategy can do
better (it does not know the future), so ``MAE - limit(retrains)`` is its regret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelmedic.backtest.bank import REFERENCE

if TYPE_CHECKING:
    import numpy as np

    from modelmedic.backtest.bank import ModelBank


@dataclass
class Limit:
    """The best achievable total error for each number of retrains, and its schedule."""

    total: list[float]  # total[k]: the least summed absolute error with at most k retrains
    rows: int
    schedules: list[list[tuple[int, str]]] = field(repr=False)

    @property
    def mae(self) -> list[float]:
        """``mae[k]``: the least MAE with at most ``k`` retrains."""
        return [t / self.rows if self.rows else float("nan") for t in self.total]

    def at(self, retrains: int) -> float:
        """The least MAE with at most ``retrains`` retrains (the largest budget computed beyond)."""
        return self.mae[min(max(retrains, 0), len(self.total) - 1)]


def best_schedules(
    reference: np.ndarray, models: dict[int, dict[str, np.ndarray]], max_retrains: int
) -> tuple[list[float], list[list[tuple[int, str]]]]:
    """The dynamic program on error matrices.

    Args:
        reference: The reference model's error in each of the ``T`` windows.
        models: For each window ``s`` where a retrain is possible, each model's error in
            every window (only windows ``>= s`` are read).
        max_retrains: The largest budget.

    Returns:
        ``(total, schedules)``: for ``k = 0..max_retrains`` the least total error with at
        most ``k`` retrains and one schedule ``[(window, model), ...]`` reaching it.
    """
    # lazy: numpy only where arrays are computed
    import numpy as np

    t = len(reference)
    starts = sorted(models)
    # seg[s][e]: least error of one model trained at s serving windows [s, e), and which model
    seg = np.full((t + 1, t + 1), np.inf)
    seg_model: dict[int, list[str]] = {}
    for s in starts:
        names = list(models[s])
        seg_model[s] = names
        if not names:
            continue
        totals = np.cumsum(np.array([models[s][n][s:] for n in names]), axis=1)  # models x (t - s)
        seg[s, s + 1 :] = totals.min(axis=0)
    chosen = {s: np.cumsum(np.array([models[s][n][s:] for n in seg_model[s]]), axis=1).argmin(axis=0)
              for s in starts if seg_model[s]}  # fmt: skip
    prefix = np.concatenate([[0.0], np.cumsum(reference)])
    best = np.full((max_retrains + 1, t + 1), np.inf)
    back = np.full((max_retrains + 1, t + 1), -1, dtype=int)
    best[0] = prefix
    at = np.array(starts, dtype=int)
    for k in range(1, max_retrains + 1):
        best[k], back[k] = best[k - 1], -1  # at most k: fewer is allowed
        for e in range(1, t + 1):
            usable = at[at < e]
            if usable.size == 0:
                continue
            values = best[k - 1][usable] + seg[usable, e]
            i = int(values.argmin())
            if values[i] < best[k][e]:
                best[k][e], back[k][e] = values[i], usable[i]
    totals = [float(best[k][t]) for k in range(max_retrains + 1)]
    schedules = []
    for k in range(max_retrains + 1):
        schedule, e, budget = [], t, k
        while budget > 0 and e > 0:
            s = int(back[budget][e])
            if s < 0:
                budget -= 1  # the same value was reached with fewer retrains
                continue
            schedule.append((s, seg_model[s][int(chosen[s][e - s - 1])]))
            e, budget = s, budget - 1
        schedules.append(schedule[::-1])
    return totals, schedules


def hindsight_limit(bank: ModelBank, max_retrains: int | None = None) -> Limit:
    """The best schedule on ``bank`` for every budget up to ``max_retrains`` (default: one per window)."""
    # lazy: numpy only where arrays are computed
    import numpy as np

    n = len(bank.windows)
    reference = np.nan_to_num(bank.window_sums(REFERENCE)[0])
    models: dict[int, dict[str, np.ndarray]] = {}
    for s in bank.retrain_weeks:
        models[s] = {}
        for policy in bank.policies:
            key = bank.model_key(policy, s)
            if bank.has(key):
                models[s][key] = np.nan_to_num(bank.window_sums(key)[0])
    budget = len(bank.retrain_weeks) if max_retrains is None else max_retrains
    totals, schedules = best_schedules(reference, models, budget)
    rows = int(sum(int(bank.window_rows[w]) for w in range(n)))
    return Limit(totals, rows, schedules)
