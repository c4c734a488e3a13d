"""The prediction log's Alembic migrations: logs made before Alembic upgraded in place,
processes starting together on one fresh log, the way down and up again (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelmedic.service.database import normalize_database_url
from modelmedic.service.log_migrations import LEGACY_VERSION_TABLE, VERSION_TABLE, downgrade, upgrade
from modelmedic.service.log_schema import define_tables
from modelmedic.service.prediction_log import TABLE, PredictionStore
from modelmedic.service.schemas import feature_column_types, service_schema
from servers import INSTANCE

PROCESSES = 4
OPEN_ON_GO = """
import sys
from modelmedic.service.prediction_log import PredictionStore
store = PredictionStore(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(store.open().schema_version, flush=True)
store.close()
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'predictions.db'}"
        return
    from databases import fresh_database

    with fresh_database("modelmedic_migrations") as url:
        yield url


def _legacy_log(url: str, version: int, rows: int) -> None:
    """A log as the code before Alembic made it at schema ``version``: its DDL, its version
    table (``modelmedic_schema_version``) and ``rows`` predictions."""
    from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, insert

    tables = define_tables(feature_column_types(), service_schema())
    versions = Table(
        LEGACY_VERSION_TABLE,
        MetaData(),
        Column("version", Integer, primary_key=True),
        Column("applied_at", DateTime(), nullable=False),
    )
    steps = [
        lambda conn: tables.predictions.create(conn, checkfirst=True),
        lambda conn: tables.corrections.create(conn, checkfirst=True),
        lambda conn: [index.create(conn, checkfirst=True) for index in tables.aggregate_indexes],
    ]
    engine = create_engine(normalize_database_url(url, Path.cwd()))
    with engine.begin() as conn:
        versions.create(conn)
        for number, step in enumerate(steps[:version], start=1):
            step(conn)
            conn.execute(insert(versions).values(version=number, applied_at=dt.datetime(2026, 1, 1)))
        start = dt.datetime(2026, 1, 5)
        predictions = [
            {
                "id": f"old-{i}",
                "created_at": start + dt.timedelta(minutes=i),
                "model_version": "1",
                **INSTANCE,
                "prediction": 10.0 + i,
            }
            for i in range(rows)
        ]
        conn.execute(tables.predictions.insert(), predictions)
    engine.dispose()


def _schema(store: PredictionStore) -> tuple[set[str], list[str], set[str]]:
    """The log's tables, the revisions recorded and the indexes of ``prediction_log``."""
    from sqlalchemy import inspect

    with store.engine.connect() as conn:
        inspector = inspect(conn)
        names = set(inspector.get_table_names())
        revisions = []
        if VERSION_TABLE in names:
            revisions = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars().all()
        indexes = {index["name"] for index in inspector.get_indexes(TABLE)} if TABLE in names else set()
    return names, list(revisions), indexes


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_log_made_before_alembic_is_upgraded_in_place(log_url: str, version: int) -> None:
    _legacy_log(log_url, version, rows=5)

    store = PredictionStore(log_url).open()
    try:
        names, revisions, indexes = _schema(store)
        assert store.schema_version == 3
        assert store.count() == 5 and store.ids() == {f"old-{i}" for i in range(5)}
        assert revisions == ["0003"]
        assert LEGACY_VERSION_TABLE not in names and {TABLE, "label_corrections"} <= names
        assert {index.name for index in store.tables.aggregate_indexes} <= indexes
        store.record_feedback({"old-0": 3.0})
        outcome = store.record_feedback({"old-0": 4.0, "new": 1.0})
        assert outcome.corrected == ["old-0"] and outcome.unknown == ["new"]
    finally:
        store.close()


def test_processes_starting_together_on_a_fresh_log_migrate_once(log_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_ON_GO, log_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        for process in processes:  # every process is waiting: let them all open the log at once
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [out.strip() for out, _ in results] == ["3"] * PROCESSES, [err for _, err in results]

    store = PredictionStore(log_url)
    try:
        names, revisions, _ = _schema(store)
        assert revisions == ["0003"]
        assert {TABLE, "label_corrections", VERSION_TABLE} <= names and LEGACY_VERSION_TABLE not in names
    finally:
        store.close()


def test_down_to_nothing_and_up_again(log_url: str) -> None:
    store = PredictionStore(log_url).open()
    try:
        store.log_predictions([{"id": uuid.uuid4().hex, "created_at": dt.datetime(2026, 1, 5), "model_version": "1",
                                **INSTANCE, "prediction": 1.0}])  # fmt: skip
        postgres = not store.is_sqlite
        with store.engine.begin() as conn:
            assert downgrade(conn, store.tables, postgres, "0002") == 2
        names, revisions, indexes = _schema(store)
        assert revisions == ["0002"] and store.count() == 1
        assert not {index.name for index in store.tables.aggregate_indexes} & indexes
        with store.engine.begin() as conn:
            assert downgrade(conn, store.tables, postgres, "base") == 0
        names, revisions, _ = _schema(store)
        assert revisions == [] and TABLE not in names and "label_corrections" not in names
        with store.engine.begin() as conn:
            assert upgrade(conn, store.tables, postgres) == 3
        assert store.count() == 0
        assert _schema(store)[1] == ["0003"]
    finally:
        store.close()
