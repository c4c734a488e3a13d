"""Ranking the strategies of a backtest: objective, Pareto front, recommendation, retrain cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest_data import START, config
from modelmedic.backtest import rank
from modelmedic.backtest.engine import BacktestResult, RetrainPoint, StrategyRun
from modelmedic.backtest.ranking import pareto_front
from modelmedic.errors import ConfigError

# -- ranking ------------------------------------------------------------------------------


def fake_run(name: str, mae: float, retrains: int) -> StrategyRun:
    points = [RetrainPoint(i, START, "test", 10, 0.1) for i in range(retrains)]
    return StrategyRun(
        name, [mae], [mae], [100], points, np.zeros(1), abs_error=mae * 100, squared_error=mae**2 * 100, rows=100
    )


def fake_result(runs: list[StrategyRun], windows: int = 10, reference_mae: float = 10.0) -> BacktestResult:
    from modelmedic.windows import make_windows

    cuts = make_windows(START, START + pd.Timedelta(weeks=windows), "1W")
    return BacktestResult(runs, cuts, config(), 1.0, 1000, reference_mae)


def test_objective_pareto_front_and_recommendation():
    runs = [fake_run("never", 10, 0), fake_run("weekly", 5, 10), fake_run("wasteful", 6, 20), fake_run("monthly", 7, 2)]
    assert pareto_front(runs) == {"never", "weekly", "monthly"}
    ranking = rank(fake_result(runs), retrain_cost=1.0)
    assert [r.name for r in ranking.rows] == ["weekly", "monthly", "wasteful", "never"]
    assert [round(r.objective, 6) for r in ranking.rows] == [6.0, 7.2, 8.0, 10.0]
    assert [r.gap_to_best for r in ranking.rows] == [0, 2, 1, 5]
    expensive = rank(fake_result(runs), retrain_cost=10.0)
    assert expensive.recommendation == "monthly"  # 7 + 10*2/10 = 9 < 10 (never) < 15 (weekly)
    assert "weekly" in expensive.why and "Pareto" in expensive.why


def test_default_retrain_cost_is_five_percent_of_never():
    ranking = rank(fake_result([fake_run("never", 10, 0)], reference_mae=40.0))
    assert ranking.retrain_cost == pytest.approx(2.0) and "5%" in ranking.cost_source
    with pytest.raises(ConfigError):
        rank(fake_result([fake_run("never", 10, 0)]), retrain_cost=-1)
