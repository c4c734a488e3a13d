"""The prediction log against real SQLite and the real PostgreSQL on 127.0.0.1:5432."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from modelmedic.service.database import Timeouts
from modelmedic.service.prediction_log import (
    TABLE,
    PredictionStore,
    PredictionStoreError,
    PredictionStoreTimeout,
    normalize_database_url,
    read_prediction_log,
)
from modelmedic.service.schemas import FEATURE_NAMES
from servers import INSTANCE


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PredictionStore]:
    """An open, migrated log on SQLite (tmp file) or PostgreSQL (fresh tables per test)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'predictions.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = PredictionStore(url).open()
    _drop_log(opened)  # PostgreSQL's database lives for the session: start each test empty
    opened.close()
    opened = PredictionStore(url).open()
    yield opened
    opened.close()


def _drop_log(store: PredictionStore) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS prediction_log_version")
        conn.exec_driver_sql("DROP TABLE IF EXISTS label_corrections")


def _rows(n: int, start: dt.datetime, version: str = "1") -> list[dict]:
    return [
        {
            "id": uuid.uuid4().hex,
            "created_at": start + dt.timedelta(minutes=i),
            "model_version": version,
            **{**INSTANCE, "hr": i % 24, "temp": round(0.01 * (i % 100), 2)},
            "prediction": 10.0 + i,
        }
        for i in range(n)
    ]


def test_round_trip_is_shaped_like_the_data_set(store: PredictionStore, bike_schema) -> None:
    start = dt.datetime(2026, 1, 5, 8, 0)
    rows = _rows(30, start)
    store.log_predictions(rows)

    frame = store.read_frame()

    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "datetime"
    assert frame.index.is_monotonic_increasing and frame.index[0] == pd.Timestamp(start)
    assert len(frame) == 30 and frame["id"].tolist() == [r["id"] for r in rows]
    for col in bike_schema.features:
        assert col in frame
    for col in bike_schema.categorical:
        assert isinstance(frame[col].dtype, pd.CategoricalDtype)
    assert frame["hr"].dtype == "int64" and frame["temp"].dtype == "float64"
    assert frame[bike_schema.prediction].tolist() == [r["prediction"] for r in rows]
    assert frame[bike_schema.target].isna().all()
    assert frame["hr"].tolist() == [r["hr"] for r in rows]


def test_since_until_select_a_period(store: PredictionStore) -> None:
    start = dt.datetime(2026, 1, 5, 8, 0)
    store.log_predictions(_rows(10, start))

    since = start + dt.timedelta(minutes=3)
    until = start + dt.timedelta(minutes=7)
    window = store.read_frame(since=since, until=until)
    aware = store.read_frame(since=(since.replace(tzinfo=dt.UTC)).astimezone(dt.timezone(dt.timedelta(hours=2))))

    assert len(window) == 4 and window.index.min() == pd.Timestamp(since)
    assert len(aware) == 7  # an aware time is converted to the log's UTC


def test_feedback_labels_known_ids_and_reports_unknown_ones(store: PredictionStore, bike_schema) -> None:
    rows = _rows(3, dt.datetime(2026, 1, 5))
    store.log_predictions(rows)

    outcome = store.record_feedback({rows[0]["id"]: 16.0, "nope": 3.0, rows[2]["id"]: 40.0})

    assert (outcome.accepted, outcome.unknown, outcome.corrected) == (2, ["nope"], [])
    frame = store.read_frame()
    assert frame[bike_schema.target].tolist()[0] == 16.0
    assert pd.isna(frame[bike_schema.target].tolist()[1])
    assert frame[bike_schema.target].tolist()[2] == 40.0
    assert "nope" not in store.ids()


def test_a_second_label_is_a_correction_that_keeps_the_first(store: PredictionStore) -> None:
    rows = _rows(2, dt.datetime(2026, 1, 5))
    store.log_predictions(rows)
    store.record_feedback({rows[0]["id"]: 16.0, rows[1]["id"]: 5.0})

    again = store.record_feedback({rows[0]["id"]: 18.0, rows[1]["id"]: 5.0})  # one corrected, one re-sent

    assert (again.accepted, again.corrected) == (2, [rows[0]["id"]])
    assert store.read_frame()["cnt"].tolist() == [18.0, 5.0]
    with store.reading() as conn:
        kept = conn.execute(store.corrections.select()).mappings().all()
    assert [(k["prediction_id"], k["previous_cnt"], k["cnt"]) for k in kept] == [(rows[0]["id"], 16.0, 18.0)]
    assert kept[0]["previous_labelled_at"] is not None and kept[0]["labelled_at"] >= kept[0]["previous_labelled_at"]


def test_a_write_past_its_deadline_stores_nothing(store: PredictionStore) -> None:
    rows = _rows(3, dt.datetime(2026, 1, 5))
    store.log_predictions(rows[:1])

    with pytest.raises(PredictionStoreTimeout, match="nothing was stored"):
        store.log_predictions(rows[1:], deadline=time.monotonic())
    with pytest.raises(PredictionStoreTimeout):
        store.record_feedback({rows[0]["id"]: 7.0}, deadline=time.monotonic() - 1)

    assert store.ids() == {rows[0]["id"]}
    assert store.read_frame()["cnt"].isna().all()


def test_a_long_sqlite_read_does_not_hold_up_a_write(tmp_path: Path) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path / 'log.db'}").open()
    store.log_predictions(_rows(2, dt.datetime(2026, 1, 5)))
    written = threading.Event()

    def write() -> None:
        store.log_predictions(_rows(3, dt.datetime(2026, 1, 6)))
        written.set()

    with store.reading() as conn:  # a monitoring read, its transaction still open
        before = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {TABLE}").scalar()
        writer = threading.Thread(target=write)
        writer.start()
        committed = written.wait(timeout=10)  # the old BEGIN IMMEDIATE reads held writes for 30 s
        still = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {TABLE}").scalar()
    writer.join(10)
    assert committed, "the write waited for the read transaction"
    assert (before, still) == (2, 2)  # the read kept its snapshot
    assert store.count() == 5
    store.close()


def test_a_failed_batch_stores_nothing(store: PredictionStore) -> None:
    rows = _rows(4, dt.datetime(2026, 1, 5))
    store.log_predictions(rows[:1])

    with pytest.raises(PredictionStoreError) as caught:
        store.log_predictions(rows[1:] + rows[:1])  # the last row repeats a stored id

    assert store.count() == 1
    assert "INSERT" not in str(caught.value)  # no SQL in messages


def test_migrating_again_keeps_the_data(store: PredictionStore) -> None:
    store.log_predictions(_rows(2, dt.datetime(2026, 1, 5)))

    again = PredictionStore(store.url)
    assert again.open().schema_version == 3
    assert again.migrate() == 3

    assert again.count() == 2
    with again.engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT version_num FROM prediction_log_version").scalars().all()
    assert versions == ["0003"]  # Alembic records the revision applied, once
    again.close()


def test_read_prediction_log_is_the_monitor_source(store: PredictionStore) -> None:
    store.log_predictions(_rows(5, dt.datetime(2026, 1, 5)))

    frame = read_prediction_log(store.url, since="2026-01-05T00:02:00")

    assert len(frame) == 3
    assert list(frame.columns[: len(FEATURE_NAMES)]) == list(FEATURE_NAMES)


def test_read_prediction_log_without_a_log_says_so(tmp_path: Path) -> None:
    with pytest.raises(PredictionStoreError, match="no prediction log"):
        read_prediction_log(f"sqlite:///{tmp_path / 'empty.db'}")


def test_sqlite_is_durable_wal(tmp_path: Path) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path / 'log.db'}").open()
    with store.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    store.close()
    assert mode == "wal"
    assert synchronous == 2  # FULL: a commit is fsynced before it returns


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/d", "postgresql+psycopg://u:p@db.example:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_heroku_urls_are_normalised(given: str, expected: str) -> None:
    assert normalize_database_url(given, Path(".")) == expected


def test_default_is_sqlite_in_the_home(tmp_path: Path) -> None:
    assert normalize_database_url(None, tmp_path) == f"sqlite:///{(tmp_path / 'predictions.db').resolve()}"


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    store = PredictionStore("postgres://modelmedic:hunter2@127.0.0.1:1/nowhere", timeouts=Timeouts(write=2))

    with pytest.raises(PredictionStoreError) as caught:
        store.open()

    message = str(caught.value)
    assert "hunter2" not in message
    assert "127.0.0.1:1" in message and "DATABASE_URL" in message
    assert "\n" not in message
