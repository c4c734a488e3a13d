"""``POST /feedback`` over real HTTP: labels within bounds, corrections kept and counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_service import AUTH, TOKEN, service_settings

from servers import INSTANCE, ThreadServer


@pytest.fixture(scope="module")
def service(champion_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from modelmedic.service.app import create_app

    log = tmp_path_factory.mktemp("feedback") / "log.db"
    app = create_app(service_settings(champion_home, log, api_token=TOKEN))
    with ThreadServer(app) as server, httpx.Client(base_url=server.url, timeout=30, headers=AUTH) as client:
        yield {"client": client, "state": app.state.service}


def _predict(client: httpx.Client, n: int = 1) -> list[str]:
    answer = client.post("/predict", json={"instances": [INSTANCE] * n})
    return [p["id"] for p in answer.json()["predictions"]]


def _counter(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"id": "%s", "cnt": 1e308}', "plausible maximum"),
        ('{"id": "%s", "cnt": -1}', "greater than or equal to 0"),
        ('{"id": "%s", "cnt": NaN}', "finite number"),
        ('{"id": "%s", "cnt": Infinity}', "finite number"),
        ('[{"id": "%s", "cnt": 3}, {"id": "other", "cnt": 1e12}]', "plausible maximum"),
    ],
)
def test_implausible_labels_answer_422_with_the_reason_and_store_nothing(
    service: dict[str, Any], body: str, reason: str
) -> None:
    client, state = service["client"], service["state"]
    [prediction] = _predict(client)

    answer = client.post("/feedback", content=body % prediction, headers={"Content-Type": "application/json"})

    assert answer.status_code == 422, answer.text
    assert reason in answer.text
    frame = state.store.read_frame().set_index("id")
    assert frame["cnt"].isna()[prediction]  # the valid label of a refused batch is not stored either


def test_the_default_bound_is_100_times_the_reference_maximum(service: dict[str, Any]) -> None:
    client, state = service["client"], service["state"]
    largest = state.reference.target_max
    [prediction] = _predict(client)

    at_bound = client.post("/feedback", json={"id": prediction, "cnt": 100 * largest})
    above = client.post("/feedback", json={"id": prediction, "cnt": 100 * largest + 1})

    assert largest and largest > 100  # the bike reference's busiest hour
    assert at_bound.status_code == 200 and above.status_code == 422
    assert f"{100 * largest:g}" in above.json()["detail"][0]["msg"]


def test_a_second_label_is_kept_as_a_correction_and_counted(service: dict[str, Any]) -> None:
    client, state = service["client"], service["state"]
    first, second = _predict(client, 2)
    before = _counter(client, "modelmedic_label_corrections_total")

    original = client.post("/feedback", json=[{"id": first, "cnt": 16}, {"id": second, "cnt": 4}]).json()
    resent = client.post("/feedback", json={"id": second, "cnt": 4}).json()
    corrected = client.post("/feedback", json={"id": first, "cnt": 18}).json()

    assert original["corrected"] == [] and resent["corrected"] == []  # the same label again is no correction
    assert corrected == {"accepted": 1, "unknown": [], "corrected": [first]}
    assert _counter(client, "modelmedic_label_corrections_total") == before + 1
    store = state.store
    assert store.read_frame().set_index("id").loc[first, "cnt"] == 18
    with store.reading() as conn:
        kept = conn.execute(store.corrections.select().where(store.corrections.c.prediction_id == first)).all()
    assert [(k.previous_cnt, k.cnt) for k in kept] == [(16.0, 18.0)]
