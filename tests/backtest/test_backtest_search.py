"""The search of the strategy space and the hindsight limit."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from backtest_data import SCHEMA, START, noisy, synthetic
from backtest_data import bank_config as config
from modelmedic.backtest.bank import ModelBank
from modelmedic.backtest.hindsight import best_schedules, hindsight_limit
from modelmedic.backtest.schedules import evaluate
from modelmedic.backtest.search import feature_subsets, search, search_space
from modelmedic.errors import ConfigError
from modelmedic.retraining.strategies import parse_strategy


def brute_force(reference, models, max_retrains):
    """Every schedule: each subset of retrain windows, each with each model."""
    t, best = len(reference), [np.inf] * (max_retrains + 1)
    starts = sorted(models)
    for k in range(max_retrains + 1):
        for weeks in itertools.combinations(starts, k):
            for names in itertools.product(*[list(models[w]) for w in weeks]):
                total, serving, plan = 0.0, reference, dict(zip(weeks, names, strict=True))
                for w in range(t):
                    if w in plan:
                        serving = models[w][plan[w]]
                    total += serving[w]
                for j in range(k, max_retrains + 1):
                    best[j] = min(best[j], total)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_the_dynamic_program_equals_brute_force_on_random_errors(seed):
    rng = np.random.default_rng(seed)
    t = 6
    reference = rng.uniform(0, 10, t)
    models = {s: {name: rng.uniform(0, 10, t) for name in ("a", "b")} for s in range(1, t)}
    totals, schedules = best_schedules(reference, models, 4)
    assert totals == pytest.approx(brute_force(reference, models, 4), abs=1e-9)
    for k, schedule in enumerate(schedules):  # each schedule reaches its total
        assert len(schedule) <= k
        serving, total, plan = reference, 0.0, dict(schedule)
        for w in range(t):
            serving = models[w][plan[w]] if w in plan else serving
            total += serving[w]
        assert total == pytest.approx(totals[k])


def test_the_limit_on_a_tiny_history_equals_brute_force_over_its_bank():
    bank = ModelBank(noisy(weeks=10), SCHEMA, config(), ("sliding:1W", "expanding"), None).build()
    limit = hindsight_limit(bank)
    reference = np.nan_to_num(bank.window_sums("reference")[0])
    models = {
        s: {p: np.nan_to_num(bank.window_sums(bank.model_key(p, s))[0]) for p in bank.policies}
        for s in bank.retrain_weeks
    }
    assert limit.total == pytest.approx(brute_force(reference, models, len(bank.retrain_weeks)), abs=1e-6)
    for k, schedule in enumerate(limit.schedules):  # the schedules score as the limit says on the bank
        assert evaluate(bank, schedule).mae == pytest.approx(limit.mae[k])
    assert all(a >= b for a, b in itertools.pairwise(limit.mae))


def test_the_search_finds_the_planted_optimum():
    # the target jumps at week 7 (backtest window 3): the best single retrain learns from
    # the first week after the jump only; a performance trigger on a 1-week window finds it
    frame = synthetic(weeks=12, shift_week=7)
    bank = ModelBank(frame, SCHEMA, config(), ("expanding", "sliding:1W", "sliding:4W"), None).build()
    result = search(bank, retrain_cost=1.0)
    best = result.best_within(1)
    jump = next(w.index for w in bank.windows if w.begin >= START + pd.Timedelta(weeks=7))
    assert result.limit.at(1) == pytest.approx(200 / len(bank.windows))  # only the jump's week is wrong
    assert best.mae == pytest.approx(result.limit.at(1)) and result.regret(best) == pytest.approx(0, abs=1e-9)
    assert best.events == [(jump + 1, bank.model_key("sliding:1W", jump + 1))]
    assert result.recommendation.mae == pytest.approx(result.limit.at(1))
    assert [s.retrains for s in result.front] == sorted({s.retrains for s in result.front})
    assert "regret" in result.why() and result.to_dict()["front"][0]["name"] == "never"


def test_the_space_covers_every_family_and_window():
    bank = ModelBank(noisy(weeks=7), SCHEMA, config(), ("expanding", "sliding:2W"), None)
    specs = search_space(bank)
    assert {s.split(":")[0] for s in specs} == {"never", "periodic", "performance", "drift", "cusum", "estimated"}
    assert "periodic:4W+sliding:2W" in specs and "cusum:4" in specs
    assert all(parse_strategy(s).name == s for s in specs)  # canonical: retrain -s accepts each one
    with pytest.raises(ConfigError, match="families"):
        search_space(bank, ["sometimes"])
    # the performance family's patience, the drift family's feature subsets and counts
    assert {"performance:1.5,2+sliding:2W", "performance:3,3", "drift:top1", "drift:top3+sliding:2W"} <= set(specs)
    grouped = search_space(bank, ["drift"], groups={"moving": ("z", "c"), "everything": ("x", "z", "c")})
    assert "drift:0.5/z,c+sliding:2W" in grouped and not any("/x,z,c" in s for s in grouped)


def test_the_bike_data_searches_the_weather_and_the_calendar():
    from modelmedic.schema import builtin_schema

    weather, calendar = feature_subsets(builtin_schema("bike-hour"))
    assert weather == ("temp", "atemp", "hum", "windspeed", "weathersit")
    assert calendar == ("hr", "weekday", "mnth", "season", "holiday", "workingday")


def test_every_spec_on_the_front_round_trips_and_retrain_decides_with_it():
    """The front's specs parse to themselves and decide on a boundary view as `retrain` does."""
    from modelmedic.model import build_model, fit, predict
    from modelmedic.retraining.drift_cache import DriftCache
    from modelmedic.retraining.strategies import Strategy
    from modelmedic.retraining.triggers import Deployment, boundary_view

    frame = noisy(weeks=10)
    bank = ModelBank(frame, SCHEMA, config(), ("expanding", "sliding:2W"), None).build()
    result = search(bank, groups={"moving": ("z", "c")}, retrain_cost=0.0)
    front = [s.name for s in result.front]
    kinds = {n.partition(":")[0] for n in front}
    assert len(front) >= 4 and kinds - {"never"}, front
    everything = [s.name for s in result.scored]
    assert (
        any("/" in n for n in everything) and any(",2" in n for n in everything) and any("top" in n for n in everything)
    )
    # the champion as `retrain` sees it: the reference model, deployed after the reference period
    training = frame.loc[:"2020-01-28"]
    model = fit(build_model("rf", SCHEMA, 42, n_estimators=2, bootstrap=False), training, SCHEMA)
    deployed = Deployment("champion-v1", model, training, bank.reference_cutoff, bank.reference_cutoff, schema=SCHEMA)
    now = bank.boundaries[-1]
    known = frame.iloc[: frame.index.searchsorted(now)]
    predictions = np.full(len(known), np.nan)
    since = known.index.searchsorted(deployed.deployed_at)
    predictions[since:] = predict(model, known.iloc[since:], SCHEMA)
    view = boundary_view(known, SCHEMA.target, now, pd.Timedelta(0), bank.length, predictions)
    for name in [*front, *everything]:
        strategy = parse_strategy(name)
        assert isinstance(strategy, Strategy) and strategy.name == name
        decision = strategy.trigger.decide(view, deployed, DriftCache("fast", SCHEMA))
        assert isinstance(decision.retrain, bool) and decision.reason, name


def test_a_budget_picks_the_best_within_it():
    bank = ModelBank(noisy(weeks=10), SCHEMA, config(), ("expanding", "sliding:2W"), None).build()
    result = search(bank, families=["periodic"], max_retrains=2)
    assert result.recommendation.retrains <= 2
    assert result.recommendation.mae == min(s.mae for s in result.scored if s.retrains <= 2)
    with pytest.raises(ConfigError):
        search(bank, max_retrains=-1)


def test_cli_search_on_a_csv_with_a_budget(settings, tmp_path):
    import json

    from typer.testing import CliRunner

    from modelmedic.cli import app

    data, description = tmp_path / "series.csv", tmp_path / "series.toml"
    noisy(weeks=9).rename_axis("time").reset_index().to_csv(data, index=False)
    description.write_text(
        'name = "series"\ndatetime = "time"\ntarget = "y"\nnumerical = ["x", "z"]\ncategorical = ["c"]\n'
    )
    args = ["backtest", "--search", "--data", str(data), "--schema", str(description),
            "--reference-start", "2020-01-01", "--reference-end", "2020-01-28",
            "--kind", "rf", "--workers", "1", "--max-retrains", "2"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    search = json.loads(result.stdout)["search"]
    assert search["candidates"] > 200 and search["max_retrains"] == 2 and search["recommendation"]["retrains"] <= 2
    assert search["front"][0]["name"] == "never" and search["limit"][0]["mae"] == search["front"][0]["mae"]
    assert all(f["regret"] >= -1e-9 for f in search["front"])  # nothing beats the hindsight limit
    assert search["trained"] > 0
    again = CliRunner().invoke(app, args)  # the bank comes from the cache
    assert again.exit_code == 0 and "0 trained now" in again.output and "hindsight limit" in again.output
    wrong = CliRunner().invoke(app, ["backtest", "--search", "-s", "never"])
    assert wrong.exit_code == 2 and "either --search" in wrong.output and "Traceback" not in wrong.output


def test_the_vectorised_cusum_is_the_recursion():
    from modelmedic.retraining.error_triggers import CUSUM_SLACK, cusum_path

    z = np.random.default_rng(0).normal(0.3, 1.5, 500)
    expected, s = [], 0.0
    for value in z:
        s = max(0.0, s + value - CUSUM_SLACK)
        expected.append(s)
    np.testing.assert_allclose(cusum_path(z), expected, atol=1e-9)


def test_retrain_applies_patience_and_feature_subsets(settings, trained, bike, bike_schema):
    """`modelmedic retrain -s` takes the new parameters of the searched families (dry runs)."""
    from modelmedic.retraining.decision import retrain

    specs = {
        "performance:1.5,2+sliding:26W": "of the last 2 windows",
        "drift:0.5/temp,atemp,hum,windspeed,weathersit+sliding:13W": "drift share",
        "drift:0.5/hr,weekday,mnth,season,holiday,workingday": "drift share",
        "drift:top2+recency:4W": "features drifted",
    }
    for spec, reason in specs.items():
        decision = retrain(bike, bike_schema, spec, settings=settings, until="2011-04-30", dry_run=True)
        assert decision.strategy == spec and reason in decision.reason, (spec, decision.reason)
