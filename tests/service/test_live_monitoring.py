"""Live monitoring from database aggregates: the same numbers as the rows give, and nobody
outside steers what the alerts read (real SQLite, real PostgreSQL, real HTTP)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from test_service import AUTH, TOKEN, service_settings

from modelmedic.drift.fast import FastEngine
from modelmedic.performance import regression_metrics
from modelmedic.service.app import create_app
from modelmedic.service.live_reports import LiveReference, drift_options, drift_report, performance_report
from modelmedic.service.log_aggregates import Window, window_stats
from modelmedic.service.prediction_log import TABLE, PredictionStore
from modelmedic.service.schemas import FEATURE_NAMES, feature_column_types
from modelmedic.windows import select_period
from servers import INSTANCE, ThreadServer

NOW = dt.datetime(2026, 3, 1, 12, 0)


def bike_rows(bike: pd.DataFrame, n: int = 1500) -> list[dict[str, Any]]:
    """``n`` real bike hours (summer 2011) logged one a minute before ``NOW``, labelled on
    every second row (a few with a zero count), with a prediction off by a known error."""
    part = bike.loc["2011-06-01":].head(n)
    types = feature_column_types()
    rows = []
    for i, (_, record) in enumerate(part.iterrows()):
        features = {name: types[name](record[name]) for name in FEATURE_NAMES}
        cnt = float(record["cnt"])
        rows.append(
            {
                "id": uuid.uuid4().hex,
                "created_at": NOW - dt.timedelta(minutes=n - i),
                "model_version": str(1 + i % 2),
                **features,
                "prediction": 0.9 * cnt + features["hr"],
                "cnt": (0.0 if i % 50 == 0 else cnt) if i % 2 == 0 else None,
            }
        )
    return rows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def filled(request: pytest.FixtureRequest, tmp_path: Path, bike) -> Iterator[PredictionStore]:
    url = f"sqlite:///{tmp_path / 'log.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = PredictionStore(url).open()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {TABLE}")
    rows = bike_rows(bike)
    with store.engine.begin() as conn:  # labels included: written as the service would after /feedback
        conn.execute(store.table.insert(), rows)
    yield store
    store.close()


@pytest.fixture(scope="module")
def reference(bike, bike_schema) -> LiveReference:
    engine = FastEngine(drift_options(bike_schema)).fit(select_period(bike, "2011-01-01", "2011-01-28"))
    return LiveReference(engine, "test reference", target_max=float(bike["cnt"].max()))


@pytest.mark.parametrize("since", [None, NOW - dt.timedelta(hours=5), NOW - dt.timedelta(minutes=30)])
def test_drift_from_value_counts_equals_drift_of_the_rows(
    filled: PredictionStore, reference: LiveReference, since: dt.datetime | None
) -> None:
    expected = reference.engine.calculate(filled.read_frame(since)).to_dict()

    report = drift_report(reference, filled, since, max_distinct=100_000)

    assert report["rows"] == len(filled.read_frame(since))
    assert report["dataset"]["share"] == pytest.approx(expected["dataset"]["share"], rel=1e-9, abs=1e-12)
    assert report["columns"].keys() == expected["columns"].keys()
    for column, want in expected["columns"].items():
        got = report["columns"][column]
        assert (got["stattest"], got["drifted"]) == (want["stattest"], want["drifted"]), column
        assert got["score"] == pytest.approx(want["score"], rel=1e-9, abs=1e-12), column


@pytest.mark.parametrize("since", [None, NOW - dt.timedelta(hours=5)])
def test_error_metrics_from_sums_equal_the_metrics_of_the_rows(filled: PredictionStore, since: Any) -> None:
    frame = filled.read_frame(since)
    labelled = frame.dropna(subset=["cnt"])
    expected = regression_metrics(labelled["cnt"], labelled["prediction"])

    report = performance_report(filled, since)

    assert (report["rows"], report["labelled"]) == (len(frame), len(labelled))
    assert report["model_versions"] == sorted(frame["model_version"].unique())
    for name, value in expected.items():
        assert report["metrics"][name] == pytest.approx(value, rel=1e-9), name


def test_many_distinct_values_fall_back_to_a_bounded_uniform_sample(filled: PredictionStore) -> None:
    stats = window_stats(filled, ["hum", "hr"], [], Window(), max_distinct=30)
    hum, hr = stats["hum"], stats["hr"]

    assert stats.rows == 1500
    assert filled.read_frame()["hum"].nunique() > 30
    assert hum.nunique <= 30 and 0 < hum.n < 1500  # a sample of rows: fewer than all
    assert (hr.nunique, hr.n) == (24, 1500)  # few distinct values: counted exactly
    full = filled.read_frame()["hum"].to_numpy()
    assert set(hum.values) <= set(full)  # a sample of the logged values, not invented ones
    assert np.all(np.diff(hum.values) > 0)


# -- the service: gauges, tokens, cache --------------------------------------------------


def _gauge(client: httpx.Client, name: str = "modelmedic_drift_share") -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


@pytest.fixture
def service(champion_home: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    settings = service_settings(
        champion_home, tmp_path / "log.db", api_token=TOKEN, monitoring_interval_seconds=3600, max_batch=100
    )
    app = create_app(settings)
    with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield {"client": client, "state": app.state.service}


def test_anonymous_calls_do_not_move_the_drift_gauge(service: dict[str, Any]) -> None:
    from servers import wait_until

    client, state = service["client"], service["state"]
    hot = {**INSTANCE, "temp": 0.95, "atemp": 0.9, "season": 3, "mnth": 7}
    assert client.post("/predict", json={"instances": [hot] * 100}).status_code == 200
    state.monitor.measure()  # the scheduled measurement, now rather than in an hour
    wait_until(lambda: _gauge(client) is not None, 10, "the scheduled drift measurement")
    before = _gauge(client)
    since = dt.datetime.now(dt.UTC).isoformat()
    assert client.post("/predict", json={"instances": [INSTANCE] * 50}).status_code == 200

    for params in ({"since": since}, {"since": "2000-01-01T00:00:00"}, {}):
        assert client.get("/monitoring/drift", params=params).status_code == 200
    anonymous_share = client.get("/monitoring/drift", params={"since": since}).json()["dataset"]["share"]

    assert before is not None and before > 0
    assert anonymous_share != before  # the caller's window measures something else...
    assert _gauge(client) == before  # ...and the gauge does not follow it
    assert _gauge(client, "modelmedic_drift_window_rows") == 100


def test_answers_are_cached_per_parameters(service: dict[str, Any]) -> None:
    client, state = service["client"], service["state"]
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0).isoformat()
    ids = [p["id"] for p in client.post("/predict", json={"instances": [INSTANCE] * 4}).json()["predictions"]]
    first = client.get("/monitoring/performance", params={"since": since}).json()
    hits = state.monitor.hits

    assert client.post("/feedback", json=[{"id": i, "cnt": 10.0} for i in ids], headers=AUTH).status_code == 200
    again = client.get("/monitoring/performance", params={"since": since}).json()
    same_time = client.get("/monitoring/performance", params={"since": since.replace("+00:00", "Z")}).json()
    later = client.get("/monitoring/performance", params={"since": since.replace("+00:00", ".5+00:00")}).json()

    assert state.monitor.hits == hits + 2  # keyed by the parsed time, not its spelling
    assert again == same_time == first and first["labelled"] == 0  # cached: from before the labels
    assert later["labelled"] == 4  # other parameters: measured now


def test_anonymous_callers_do_not_queue_behind_a_running_measurement(service: dict[str, Any]) -> None:
    client, state = service["client"], service["state"]
    with state.monitor._gate:  # a measurement running
        busy = client.get("/monitoring/drift", params={"since": "2001-01-01T00:00:00"})
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert client.get("/monitoring/drift", params={"since": "2001-01-01T00:00:00"}).status_code == 200


def test_the_token_requirement_guards_monitoring_and_dashboard_data(champion_home: Path, tmp_path: Path) -> None:
    settings = service_settings(champion_home, tmp_path / "log.db", api_token=TOKEN, monitoring_token_required=True)
    app = create_app(settings)
    with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        anonymous = [client.get(path).status_code for path in ROUTES]
        wrong = [client.get(path, headers={"Authorization": "Bearer nope"}).status_code for path in ROUTES]
        right = [client.get(path, headers=AUTH).status_code for path in ROUTES]
        predict = client.post("/predict", json=INSTANCE).status_code

    assert anonymous == [401, 401, 401] and wrong == [403, 403, 403] and right == [200, 200, 200]
    assert predict == 200  # predictions stay open


ROUTES = ("/monitoring/drift", "/monitoring/performance", "/dashboard/data.json")


def test_dashboard_live_data_equal_the_rows(filled: PredictionStore, reference: LiveReference, bike_schema) -> None:
    from modelmedic.config import Settings
    from modelmedic.service.live_traffic import live_traffic
    from modelmedic.service.metrics import ServiceMetrics
    from modelmedic.service.state import ServiceState

    state = ServiceState(Settings(), bike_schema, ServiceMetrics(), store=filled, reference=reference)
    now = NOW.replace(tzinfo=dt.UTC) - dt.timedelta(minutes=7)  # the newest rows are after it
    frame = filled.read_frame(since=now - dt.timedelta(days=7), until=now)
    labelled = frame.dropna(subset=["cnt"])
    hours = frame.assign(labelled=frame["cnt"].notna()).groupby(frame.index.floor("h"))["labelled"].agg(["size", "sum"])

    live = live_traffic(state, now=now)

    assert live["per_hour"] == [
        {"hour": hour.isoformat(), "predictions": int(row["size"]), "labelled": int(row["sum"])}
        for hour, row in hours.iterrows()
    ]
    everything = filled.read_frame(since=now - dt.timedelta(days=7))  # "rows" and "mae" have no end
    assert (live["rows"], live["labelled"]) == (len(everything), everything["cnt"].notna().sum())
    assert len(labelled) < live["labelled"]
    last_day = filled.read_frame(since=now - dt.timedelta(days=1), until=now)
    assert live["drift"]["last_24h"]["rows"] == len(last_day)
    want = reference.engine.calculate(last_day).to_dict()["dataset"]["share"]
    assert live["drift"]["last_24h"]["share"] == pytest.approx(want, rel=1e-9)
