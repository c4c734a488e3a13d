"""Latency and memory of the live monitoring routes on a large prediction log.

For each log size (default 100,000 then 1,000,000 rows) and each database (SQLite WAL,
and a throw-away PostgreSQL database when one answers on 127.0.0.1:5432): fill the log by
bulk insert with real bike hours (every second one labelled, spread over the last six
days), start the service (one uvicorn process, answers never cached:
``MODELMEDIC_MONITORING_CACHE_SECONDS=0``) and time ``GET /monitoring/drift``,
``/monitoring/performance`` (whole log) and ``/dashboard/data.json`` (last 7 days).
Printed per case: the best and worst of ``--repeat`` calls, the process's resident memory
after start-up and its peak (``VmHWM``) after the calls, and the latency of one-row
``/predict`` calls made one after another, idle and while the monitoring calls run. Targets: drift < 2 s at 1M rows,
peak memory flat from 100k to 1M rows.

Run: ``.venv/bin/python bench/live_monitoring.py`` (``--sizes 20000`` for a quick look;
``--home DIR`` keeps the filled SQLite log and the model for another run, e.g. of another
version of the code with ``PYTHONPATH``). The bike data come from ``MODELMEDIC_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import data_dir, free_port, start, stop, train_rf, wait_ready  # the sibling bench

PG_ADMIN = "postgresql+psycopg://{role}@127.0.0.1:5432/test"
CHUNK = 50_000
TOKEN = "bench-token"
PREDICTS = 200  # one-row predictions timed while nothing else runs


@functools.cache
def bike_records() -> list[dict[str, Any]]:
    """Every hour of the bike data: the features and ``cnt``."""
    from modelmedic.config import Settings
    from modelmedic.data import load_dataset
    from modelmedic.service.schemas import FEATURE_NAMES

    frame, _ = load_dataset(None, None, Settings(data_dir=data_dir()), progress=False)
    return frame[[*FEATURE_NAMES, "cnt"]].to_dict("records")


def bike_rows(count: int, offset: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Rows ``offset`` .. ``offset + count`` of the bench's log: real bike hours, cycled."""
    from modelmedic.service.schemas import FEATURE_NAMES, feature_column_types

    types = feature_column_types()
    records = bike_records()
    span = dt.timedelta(days=6).total_seconds()
    rows = []
    for i in range(offset, offset + count):
        record = records[i % len(records)]
        cnt = float(record["cnt"])
        rows.append(
            {
                "id": uuid.uuid4().hex,
                "created_at": now - dt.timedelta(seconds=span * (1 - i / 2_000_000)),
                "model_version": "1",
                **{name: types[name](record[name]) for name in FEATURE_NAMES},
                "prediction": 0.9 * cnt + record["hr"],
                "cnt": cnt if i % 2 == 0 else None,
            }
        )
    return rows


def fill(url: str, rows: int) -> float:
    """Bring the log at ``url`` to ``rows`` rows by bulk insert; return the seconds it took."""
    from modelmedic.service.prediction_log import PredictionStore

    store = PredictionStore(url).open()
    began = time.perf_counter()
    have = store.count()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    while have < rows:
        chunk = bike_rows(min(CHUNK, rows - have), have, now)
        with store.engine.begin() as conn:
            conn.execute(store.table.insert(), chunk)
        have += len(chunk)
        print(f"  filled {have:,} rows", end="\r", flush=True)
    store.close()
    return time.perf_counter() - began


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of process ``pid`` in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def timed(client: httpx.Client, path: str, repeat: int) -> tuple[float, float]:
    """Best and worst seconds of ``repeat`` GETs of ``path`` (each must answer 200)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - began)
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:300]}")
    return min(times), max(times)


def wait_for_scheduled_measurement(client: httpx.Client, timeout: float = 300.0) -> None:
    """Wait until the service's start-up drift measurement is done (a version without one
    does not expose ``modelmedic_drift_window_rows``: nothing to wait for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = client.get("/metrics").text.splitlines()
        rows = [line for line in lines if line.startswith("modelmedic_drift_window_rows ")]
        if not rows or float(rows[0].split()[1]) > 0:
            return
        time.sleep(0.2)
    raise SystemExit("the scheduled drift measurement did not finish")


def predict_latencies(url: str, stop: Callable[[int], bool]) -> dict[str, float]:
    """Post one-row predictions one after another until ``stop(count)``; their p50, p99
    and largest latency in ms."""
    from modelmedic.service.schemas import EXAMPLE_INSTANCE

    seconds: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop(len(seconds)):
            began = time.perf_counter()
            client.post("/predict", json=EXAMPLE_INSTANCE).raise_for_status()
            seconds.append(time.perf_counter() - began)
    ms = sorted(1000 * s for s in seconds)
    return {"n": len(ms), "p50": ms[len(ms) // 2], "p99": ms[int(len(ms) * 0.99)], "max": ms[-1]}


def measure(home: Path, url: str, repeat: int) -> dict[str, Any]:
    """Start the service on the log at ``url``; time the routes; read its memory."""
    port = free_port()
    env = {
        **os.environ,
        "MODELMEDIC_HOME": str(home),
        "DATABASE_URL": url,
        # the champion stays in the home's store (a PostgreSQL log would be MLflow's store too)
        "MODELMEDIC_TRACKING_URI": f"sqlite:///{(home / 'mlflow.db').resolve()}",
        "MODELMEDIC_MONITORING_CACHE_SECONDS": "0",
        "MODELMEDIC_MONITORING_INTERVAL_SECONDS": "3600",
        "MODELMEDIC_API_TOKEN": TOKEN,  # a trusted caller: waits for a running measurement
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "modelmedic.service.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = home / f"server-{port}.log"
    process = start(command, env, log)
    try:
        wait_ready(f"http://127.0.0.1:{port}/ready", process, log)
        started = memory_kb(process.pid)
        results: dict[str, Any] = {"rss_start_mb": started["VmRSS"] / 1024}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600, headers=headers) as client:
            wait_for_scheduled_measurement(client)
            results["predict_idle"] = predict_latencies(f"http://127.0.0.1:{port}", lambda n: n >= PREDICTS)
            done = threading.Event()
            busy: list[dict[str, float]] = []
            loader = threading.Thread(
                target=lambda: busy.append(predict_latencies(f"http://127.0.0.1:{port}", lambda _: done.is_set()))
            )
            loader.start()
            try:
                for name in ("/monitoring/drift", "/monitoring/performance", "/dashboard/data.json"):
                    results[name] = timed(client, name, repeat)
            finally:
                done.set()
                loader.join()
            results["predict_busy"] = busy[0]
        results["peak_mb"] = memory_kb(process.pid)["VmHWM"] / 1024
    finally:
        stop(process)
    return results


def postgres_database() -> tuple[str, Any] | None:
    """A fresh PostgreSQL database ``(url, drop)`` or ``None`` when no server answers."""
    from sqlalchemy import create_engine

    for role in ("postgres", "root"):
        admin = create_engine(PG_ADMIN.format(role=role), isolation_level="AUTOCOMMIT")
        name = f"modelmedic_bench_{uuid.uuid4().hex[:10]}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except Exception:
            admin.dispose()
            continue

        def drop(admin: Any = admin, name: str = name) -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

        return PG_ADMIN.format(role=role).rsplit("/", 1)[0] + f"/{name}", drop
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="log sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="calls per route")
    parser.add_argument("--home", type=Path, help="keep the model and the SQLite log here")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    home = args.home or Path(tempfile.mkdtemp(prefix="modelmedic-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "mlflow.db").exists():
        print("training the model ...", flush=True)
        train_rf(home)
    backends: list[tuple[str, str, Any]] = []
    if "sqlite" in args.backends:
        backends.append(("sqlite", f"sqlite:///{home / 'predictions.db'}", None))
    if "postgres" in args.backends:
        created = postgres_database()
        if created is None:
            print("no PostgreSQL on 127.0.0.1:5432: SQLite only")
        else:
            backends.append(("postgres", *created))
    try:
        for backend, url, _ in backends:
            for size in sizes:
                seconds = fill(url, size)
                print(f"\r{backend} {size:,} rows (filled in {seconds:.0f} s)" + " " * 20)
                result = measure(home, url, args.repeat)
                for route in ("/monitoring/drift", "/monitoring/performance", "/dashboard/data.json"):
                    best, worst = result[route]
                    print(f"  {route:<26} best {best:6.2f} s  worst {worst:6.2f} s")
                print(f"  memory: {result['rss_start_mb']:.0f} MB after start, peak {result['peak_mb']:.0f} MB")
                for when in ("idle", "busy"):
                    figures = result[f"predict_{when}"]
                    print(
                        f"  /predict while monitoring is {when}: p50 {figures['p50']:.1f} ms, "
                        f"p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms ({figures['n']} calls)"
                    )
    finally:
        for _, _, drop in backends:
            if drop is not None:
                drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
