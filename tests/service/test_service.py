"""The prediction service over real HTTP: a real model, a real SQLite log, uvicorn on loopback."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from modelmedic.cli import app as cli_app
from modelmedic.config import Settings
from modelmedic.model import feature_frame
from modelmedic.service.app import create_app
from modelmedic.service.prediction_log import PredictionStore
from modelmedic.service.schemas import FEATURE_NAMES
from servers import CLEARED_ENV, INSTANCE, ThreadServer, wait_until

TOKEN = "correct-horse-battery-staple"
MAX_BATCH = 50
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def service_settings(home: Path, log: Path, **values: Any) -> Settings:
    """Settings of an app served in this process; no refresh, whose store check would point
    MLflow's process-wide URI at ``home`` while another test trains into its own store."""
    with pytest.MonkeyPatch.context() as patch:
        for var in CLEARED_ENV:
            patch.delenv(var, raising=False)
        return Settings(home=home, database_url=f"sqlite:///{log}", **{"model_refresh_seconds": 0, **values})


@pytest.fixture(scope="module")
def service(champion_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app on the session's champion, with a token, under uvicorn on a loopback port."""
    log = tmp_path_factory.mktemp("service") / "predictions.db"
    app = create_app(service_settings(champion_home, log, api_token=TOKEN, max_batch=MAX_BATCH))
    with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield {"url": server.url, "client": client, "app": app, "log": log}


@pytest.fixture
def client(service: dict[str, Any]) -> httpx.Client:
    return service["client"]


def _log(service: dict[str, Any]) -> PredictionStore:
    return service["app"].state.service.store


def test_predict_one_answers_and_logs_it(service: dict[str, Any], client: httpx.Client) -> None:
    answer = client.post("/predict", json=INSTANCE)

    assert answer.status_code == 200
    body = answer.json()
    assert body["model_version"] == "1"
    [prediction] = body["predictions"]
    assert prediction["cnt"] > 0
    logged = _log(service).read_frame()
    row = logged.loc[logged["id"] == prediction["id"]].iloc[0]
    assert row["prediction"] == prediction["cnt"] and row["model_version"] == "1"
    assert row["hr"] == INSTANCE["hr"] and row["hum"] == INSTANCE["hum"]


def test_batch_predictions_are_the_models_in_order(
    service: dict[str, Any], client: httpx.Client, bike, bike_schema
) -> None:
    rows = bike.iloc[5000:5040]
    instances = [
        {name: row[name].item() if hasattr(row[name], "item") else row[name] for name in FEATURE_NAMES}
        for _, row in rows[list(FEATURE_NAMES)].astype(object).iterrows()
    ]
    instances = [
        {k: (int(v) if k not in {"temp", "atemp", "hum", "windspeed"} else float(v)) for k, v in i.items()}
        for i in instances
    ]

    answer = client.post("/predict", json={"instances": instances})

    assert answer.status_code == 200
    predictions = answer.json()["predictions"]
    expected = service["app"].state.service.served.model.predict(feature_frame(rows, bike_schema))
    assert [p["cnt"] for p in predictions] == pytest.approx(expected.tolist(), rel=1e-12)
    assert len({p["id"] for p in predictions}) == len(instances)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hr": 24}, "hr"),
        ({"hum": 1.5}, "hum"),
        ({"weathersit": 5}, "weathersit"),
        ({"season": 0}, "season"),
        ({"hr": "8"}, "hr"),
        ({"temp": "warm"}, "temp"),
        ({"holiday": True}, "holiday"),
        ({"colour": "red"}, "colour"),
        ({"windspeed": None}, "windspeed"),
    ],
)
def test_invalid_instances_answer_422_naming_the_field(client: httpx.Client, change: dict, field: str) -> None:
    single = client.post("/predict", json={**INSTANCE, **change})
    batch = client.post("/predict", json={"instances": [INSTANCE, {**INSTANCE, **change}]})

    assert single.status_code == 422 and batch.status_code == 422
    assert field in [e["field"] for e in single.json()["detail"]]
    assert f"instances[1].{field}" in [e["field"] for e in batch.json()["detail"]]


def test_missing_field_is_named(client: httpx.Client) -> None:
    body = {k: v for k, v in INSTANCE.items() if k != "atemp"}

    answer = client.post("/predict", json=body)

    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["detail"]] == ["atemp"]


def test_batches_are_bounded(client: httpx.Client) -> None:
    too_many = client.post("/predict", json={"instances": [INSTANCE] * (MAX_BATCH + 1)})
    empty = client.post("/predict", json={"instances": []})

    assert too_many.status_code == 422 and too_many.json()["detail"][0]["field"] == "instances"
    assert empty.status_code == 422


def test_oversized_bodies_answer_413(client: httpx.Client) -> None:
    declared = client.post("/predict", content=b" " * (2 * 1024 * 1024), headers={"content-type": "application/json"})

    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b" " * 8192

    streamed = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})

    assert declared.status_code == 413
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": "Bearer"},
    ],
)
@pytest.mark.parametrize("route", ["/feedback", "/admin/reload"])
def test_token_routes_refuse_missing_or_wrong_tokens(
    service: dict[str, Any], client: httpx.Client, route: str, headers: dict[str, str]
) -> None:
    [prediction] = client.post("/predict", json=INSTANCE).json()["predictions"]

    answer = client.post(route, json={"id": prediction["id"], "cnt": 5}, headers=headers)

    assert answer.status_code in (401, 403)
    labelled = _log(service).read_frame()
    assert labelled.loc[labelled["id"] == prediction["id"], "cnt"].isna().all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    token=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40).filter(
        lambda t: t != TOKEN
    )
)
def test_no_other_token_opens_feedback(client: httpx.Client, token: str) -> None:
    answer = client.post("/feedback", json={"id": "x", "cnt": 1}, headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code in (401, 403)


def test_feedback_labels_predictions_and_reports_unknown_ids(service: dict[str, Any], client: httpx.Client) -> None:
    ids = [p["id"] for p in client.post("/predict", json={"instances": [INSTANCE] * 3}).json()["predictions"]]

    one = client.post("/feedback", json={"id": ids[0], "cnt": 16}, headers=AUTH)
    many = client.post("/feedback", json=[{"id": ids[1], "cnt": 20.5}, {"id": "no-such-id", "cnt": 1}], headers=AUTH)

    assert one.status_code == 200 and one.json() == {"accepted": 1, "unknown": [], "corrected": []}
    assert many.status_code == 200 and many.json() == {"accepted": 1, "unknown": ["no-such-id"], "corrected": []}
    frame = _log(service).read_frame().set_index("id")
    assert frame.loc[ids[0], "cnt"] == 16 and frame.loc[ids[1], "cnt"] == 20.5 and pd.isna(frame.loc[ids[2], "cnt"])


def test_health_ready_and_model(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    model = client.get("/model").json()
    assert model["uri"] == "models:/bike-demand@champion" and model["version"] == "1"
    assert (model["training_start"], model["training_end"]) == ("2011-01-01", "2011-01-28")
    assert model["estimator"] == "RandomForestRegressor" and "eval/mae" in model["metrics"]
    assert client.get("/docs").status_code == 200
    assert "/predict" in client.get("/openapi.json").json()["paths"]


def test_metrics_count_requests_and_predictions(client: httpx.Client) -> None:
    def value(text: str, prefix: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))

    before = client.get("/metrics").text
    client.post("/predict", json={"instances": [INSTANCE] * 4})
    client.post("/predict", json={**INSTANCE, "hr": 99})
    after = client.get("/metrics")

    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert value(text, "modelmedic_predictions_total") - value(before, "modelmedic_predictions_total") == 4
    ok = 'modelmedic_http_requests_total{method="POST",route="/predict",status="200"}'
    bad = 'modelmedic_http_requests_total{method="POST",route="/predict",status="422"}'
    assert value(text, ok) - value(before, ok) == 1 and value(text, bad) - value(before, bad) == 1
    histogram_bucket = 'modelmedic_http_request_duration_seconds_bucket{le="0.05",method="POST",route="/predict"}'
    assert histogram_bucket in text  # the latency histogram is exposed per route (its presence, not a time)


def test_monitoring_reports_live_drift_and_performance(service: dict[str, Any], client: httpx.Client) -> None:
    since = pd.Timestamp.now(tz="UTC").isoformat()
    hot = [{**INSTANCE, "temp": 0.9, "atemp": 0.85, "season": 3, "mnth": 7, "hr": h % 24} for h in range(60)]
    ids = [p["id"] for p in client.post("/predict", json={"instances": hot[:MAX_BATCH]}).json()["predictions"]]
    client.post("/feedback", json=[{"id": i, "cnt": 100.0} for i in ids[:10]], headers=AUTH)

    drift = client.get("/monitoring/drift", params={"since": since})
    performance = client.get("/monitoring/performance", params={"since": since})

    assert drift.status_code == 200
    report = drift.json()
    assert report["rows"] == MAX_BATCH and report["engine"] == "fast"
    assert report["columns"]["temp"]["drifted"] is True and report["dataset"]["share"] > 0
    perf = performance.json()
    assert (perf["rows"], perf["labelled"], perf["model_versions"]) == (MAX_BATCH, 10, ["1"])
    frame = _log(service).read_frame(since=since)
    labelled = frame.dropna(subset=["cnt"])
    assert perf["metrics"]["mae"] == pytest.approx((labelled["prediction"] - 100.0).abs().mean())
    assert client.get("/monitoring/drift", params={"since": "yesterday-ish"}).status_code == 422
    edge = client.get("/monitoring/performance", params={"since": "0001-01-01T00:00:00+01:00"})
    assert edge.status_code == 200 and edge.json()["rows"] >= MAX_BATCH


# The OpenAPI document of an app configured as the module's server (nothing loads before start).
schema = schemathesis.openapi.from_dict(create_app(Settings(max_batch=MAX_BATCH, api_token=TOKEN)).openapi())
schema.config.generation.update(modes=list(schemathesis.GenerationMode))  # valid and invalid inputs


@pytest.mark.slow
@schema.exclude(path="/admin/reload").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_never_get_a_server_error(case: Any, service: dict[str, Any]) -> None:
    response = case.call(base_url=service["url"], headers=AUTH, timeout=30)

    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
    assert "Traceback" not in response.text


def test_routes_are_disabled_without_a_token(champion_home: Path, tmp_path: Path) -> None:
    app = create_app(service_settings(champion_home, tmp_path / "log.db"))
    with ThreadServer(app) as server:
        feedback = httpx.post(
            f"{server.url}/feedback", json={"id": "x", "cnt": 1}, headers={"Authorization": "Bearer anything"}
        )
        reload = httpx.post(f"{server.url}/admin/reload", headers={"Authorization": "Bearer anything"})

    assert feedback.status_code == 403 and "disabled" in feedback.json()["detail"]
    assert reload.status_code == 403 and "MODELMEDIC_API_TOKEN" in reload.json()["detail"]


def test_a_broken_log_answers_503_without_leaking_sql(champion_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.db"
    app = create_app(service_settings(champion_home, log))
    with ThreadServer(app) as server:
        with app.state.service.store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE prediction_log")
        answer = httpx.post(f"{server.url}/predict", json=INSTANCE)
        ready = httpx.get(f"{server.url}/ready")

    assert answer.status_code == 503
    text = answer.text.lower()
    assert "prediction_log" not in text and "insert" not in text and "traceback" not in text
    assert ready.status_code == 200  # the database still answers; the next migration recreates the log


@pytest.mark.slow
def test_reload_swaps_the_champion_without_dropping_requests(trained, settings: Settings, bike, bike_schema) -> None:
    from modelmedic.training import train_and_register

    app = create_app(settings.model_copy(update={"api_token": TOKEN, "model_refresh_seconds": 0}))
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()
    with ThreadServer(app) as server:

        def hammer() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                while not stop.is_set():
                    answer = c.post("/predict", json=INSTANCE)
                    statuses.append(answer.status_code)
                    versions.add(answer.json().get("model_version", "?"))

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            train_and_register(
                bike, bike_schema, settings=settings, kind="rf", source="test", params={"n_estimators": 5}
            )
            before = httpx.get(f"{server.url}/dashboard/data.json", timeout=120).json()
            reload = httpx.post(f"{server.url}/admin/reload", headers=AUTH, timeout=120)
            after = httpx.post(f"{server.url}/predict", json=INSTANCE).json()["model_version"]
            reloaded = httpx.get(f"{server.url}/dashboard/data.json", timeout=120).json()
        finally:
            stop.set()
            worker.join(30)

    assert reload.status_code == 200
    assert reload.json() == {
        "previous_version": "1",
        "model_version": "2",
        "uri": "models:/bike-demand@champion",
        "workers": {str(os.getpid()): "2"},
        "complete": True,
    }
    assert after == "2"
    assert statuses and set(statuses) == {200}
    assert versions <= {"1", "2"}
    # the page tells that the service still answers with the old champion, until the reload
    assert before["model"]["version"] == "2" and before["served"]["version"] == "1"
    assert any("POST /admin/reload" in p for p in before["problems"])
    assert reloaded["served"]["version"] == "2"
    assert not any("/admin/reload" in p for p in reloaded["problems"])


def test_serve_without_a_model_names_the_training_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in CLEARED_ENV:
        monkeypatch.delenv(var, raising=False)

    result = CliRunner().invoke(cli_app, ["--home", str(tmp_path / "empty"), "serve", "--check"])

    assert result.exit_code == 1
    assert "modelmedic train" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_an_unreachable_postgres(champion_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in CLEARED_ENV:
        monkeypatch.delenv(var, raising=False)

    result = CliRunner().invoke(
        cli_app,
        ["--home", str(champion_home), "serve", "--check", "--database-url", "postgres://app:s3cret@127.0.0.1:1/db"],
    )

    assert result.exit_code == 1
    assert "DATABASE_URL" in result.output and "127.0.0.1:1" in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output


@pytest.mark.postgres
@pytest.mark.parametrize("stall", ["at once", "on the commit"])
def test_a_stalled_postgres_answers_503_nothing_stored_within_the_bound(
    champion_home: Path, tmp_path: Path, request: pytest.FixtureRequest, stall: str
) -> None:
    """Stalled at once, the write never commits; stalled on its COMMIT, the commit lands
    after the request answered 503 and the service deletes the rows again."""
    from sqlalchemy.engine import make_url

    from tcp_proxy import StallingProxy

    bound, margin = 2.0, 3.0
    url = request.getfixturevalue("postgres_url")
    direct = make_url(url)
    log = PredictionStore(url).open()  # straight to the server, around the proxy
    with StallingProxy(direct.host, direct.port) as proxy:
        proxied = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        settings = service_settings(champion_home, tmp_path / "unused.db", db_timeout_seconds=bound, api_token=TOKEN)
        # the champion stays in the home's store (a PostgreSQL log would be MLflow's store too)
        pinned = {"database_url": proxied, "tracking_uri": settings.resolved_tracking_uri}
        app = create_app(settings.model_copy(update=pinned))
        with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=bound + margin) as client:
            before = log.count()
            acknowledged: list[str] = []

            def predict() -> int:
                answer = client.post("/predict", json=INSTANCE)
                if answer.status_code == 200:
                    acknowledged.extend(p["id"] for p in answer.json()["predictions"])
                return answer.status_code

            assert predict() == 200
            state = app.state.service
            wait_until(lambda: state.monitor.measured_at is not None, 30, "the start-up measurement")
            proxy.stall() if stall == "at once" else proxy.stall_on(b"COMMIT")
            began = time.monotonic()
            stalled = client.post("/predict", json=INSTANCE)  # httpx's timeout is the deadline
            waited = time.monotonic() - began
            label = client.post("/feedback", json={"id": acknowledged[0], "cnt": 7.0}, headers=AUTH)
            proxy.resume()
            wait_until(lambda: predict() == 200, 30, "/predict to recover")

    assert stalled.status_code == 503 and waited < bound + margin
    assert "nothing was stored" in stalled.json()["detail"]
    assert label.status_code == 503 and "nothing was stored" in label.json()["detail"]
    assert log.read_frame().set_index("id")["cnt"].isna()[acknowledged[0]]  # the label was not stored
    assert log.ids() >= set(acknowledged)
    assert log.count() == before + len(acknowledged)  # and not the prediction answered 503
    log.close()


def test_the_model_route_masks_a_password_in_the_model_uri(service: dict[str, Any], client: httpx.Client) -> None:
    """A model URI may carry credentials (``https://user:password@host/...``): /model names
    the model without them."""
    import dataclasses

    state = service["app"].state.service
    served = state.served
    state.served = dataclasses.replace(served, uri="https://bob:s3cret-pw@models.example/bike/model")
    try:
        answer = client.get("/model")
    finally:
        state.served = served

    assert answer.status_code == 200
    assert "s3cret-pw" not in answer.text and "bob:***@models.example" in answer.json()["uri"]
