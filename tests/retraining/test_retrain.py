"""`modelmedic retrain`: decide, train a challenger, promote only if it is better (real MLflow store)."""

from __future__ import annotations

import json

import pytest

from modelmedic.errors import ConfigError
from modelmedic.retraining.decision import ROLE, retrain


def champion_version(settings) -> str:
    from modelmedic import tracking

    return tracking.champion(settings)[1]


def decision_runs(settings) -> list:
    from modelmedic import tracking

    client = tracking.client(settings)
    experiment = client.get_experiment_by_name(f"{settings.experiment}-retrain")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`modelmedic.role` = '{ROLE}'")


def test_decisions_that_leave_the_registry_alone(settings, trained, bike, bike_schema):
    """Dry runs, label delays, user mistakes and a not-due decision, on one champion."""
    from typer.testing import CliRunner

    from modelmedic.cli import app
    from modelmedic.cli.render import retrain_summary

    # a dry run computes the whole decision but logs and registers nothing
    dry = retrain(bike, bike_schema, "drift:0.5+recency:4W", settings=settings, until="2011-05-31", dry_run=True)
    assert dry.dry_run and dry.triggered and "drift share" in dry.reason
    assert dry.action == "promote" and dry.promoted_version is None and dry.run_id is None
    assert retrain_summary(dry).startswith("dry run, would promote")
    result = CliRunner().invoke(app, ["retrain", "-s", "periodic:4W", "--until", "2011-04-30", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["dry_run"] and body["action"] in {"promote", "keep"} and body["triggered"]
    assert decision_runs(settings) == [] and champion_version(settings) == trained.version

    # with a 7-day label delay, the last week's rows are not labelled yet
    delayed = retrain(
        bike, bike_schema, "periodic:4W", settings=settings, until="2011-03-31", label_delay="7D", dry_run=True
    )
    assert delayed.label_cutoff == "2011-03-25T00:00:00" and delayed.eval_end == "2011-03-25T00:00:00"
    # held-out rows from before the champion's deployment (7 days after its data) are still scored
    early = retrain(
        bike,
        bike_schema,
        "periodic:4W",
        settings=settings,
        until="2011-02-10",
        label_delay="7D",
        force=True,
        dry_run=True,
    )
    assert early.eval_start == "2011-01-29T00:00:00" and early.eval_rows > 0
    assert early.champion_mae > 0 and early.improvement == pytest.approx(1 - early.challenger_mae / early.champion_mae)

    with pytest.raises(ConfigError, match="online learner"):
        retrain(bike, bike_schema, "incremental:sgd", settings=settings)
    with pytest.raises(ConfigError, match="before the champion"):
        retrain(bike, bike_schema, "periodic:4W", settings=settings, until="2011-01-10")
    with pytest.raises(ConfigError, match="min-improvement"):
        retrain(bike, bike_schema, "periodic:4W", settings=settings, min_improvement=1.5)

    # not due: the decision and its reason are an MLflow run
    decision = retrain(bike, bike_schema, "periodic:13W", settings=settings, until="2011-02-20")
    assert decision.action == "not-due" and not decision.triggered
    assert "below the period 13W" in decision.reason and decision.challenger_mae is None
    assert champion_version(settings) == trained.version
    (run,) = decision_runs(settings)
    assert run.info.run_id == decision.run_id
    assert run.data.tags["modelmedic.decision"] == "not-due"
    assert run.data.tags["modelmedic.reason"] == decision.reason
    assert run.data.params["strategy"] == "periodic:13W" and run.data.params["champion_version"] == trained.version


def test_the_challenger_is_promoted_only_when_better_by_the_margin(settings, trained, bike, bike_schema):
    from modelmedic import tracking

    kept = retrain(
        bike, bike_schema, "periodic:4W+sliding:8W", settings=settings, until="2011-06-30", min_improvement=0.99
    )
    assert kept.action == "keep" and kept.triggered
    assert "99.0% needed" in kept.why and kept.promoted_version is None
    assert champion_version(settings) == trained.version
    assert decision_runs(settings)[0].data.tags["modelmedic.decision"] == "keep"

    decision = retrain(bike, bike_schema, "periodic:4W+sliding:8W", settings=settings, until="2011-06-30")
    assert decision.triggered and "period 4W" in decision.reason
    assert decision.action == "promote" and decision.improvement > 0.5
    assert decision.eval_start == "2011-06-24T00:00:00" and decision.eval_end == "2011-07-01T00:00:00"
    assert decision.eval_rows == 168 and decision.challenger_mae < decision.champion_mae
    assert decision.promoted_version == champion_version(settings) != trained.version
    run = next(r for r in decision_runs(settings) if r.info.run_id == decision.run_id)
    assert run.data.tags["modelmedic.promoted_version"] == decision.promoted_version
    assert run.data.params["reference_start"] == "2011-05-06" and run.data.params["reference_end"] == "2011-06-30"
    assert run.data.metrics["improvement"] == pytest.approx(decision.improvement)
    model = tracking.load_model(f"models:/{settings.model_name}@champion", settings)
    assert model.predict(bike.loc["2011-07-01", list(bike_schema.features)].head(3)).shape == (3,)

    # the new champion was deployed at 2011-07-01 on data to 2011-06-30: 10 days later it is not due
    later = retrain(bike, bike_schema, "periodic:4W+sliding:8W", settings=settings, until="2011-07-10")
    assert later.action == "not-due" and later.champion_version == decision.promoted_version
    assert "10 days old" in later.reason


def test_without_a_champion_the_error_says_to_train(settings, bike, bike_schema):
    from modelmedic.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="modelmedic train"):
        retrain(bike, bike_schema, "periodic:4W", settings=settings)


def test_every_family_the_search_recommends_is_accepted(settings, trained, bike, bike_schema):
    """Specs of every searched family decide from the data known at --until (dry runs)."""
    specs = {
        "periodic:14W+recency:4W": "below the period",
        "performance:1.5+sliding:26W": "reference MAE",
        "drift:0.7+sliding:39W": "drift share",
        "cusum:2+sliding:13W": "CUSUM",
        "estimated:1.25+sliding:8W": "estimated MAE",
    }
    for spec, reason in specs.items():
        decision = retrain(bike, bike_schema, spec, settings=settings, until="2011-04-30", dry_run=True)
        assert decision.strategy == spec and reason in decision.reason, (spec, decision.reason)
        assert decision.action in {"not-due", "promote", "keep"}
    # the CUSUM of the January model alarms by the end of April (spring's larger errors)
    assert retrain(bike, bike_schema, "cusum:2", settings=settings, until="2011-04-30", dry_run=True).triggered
