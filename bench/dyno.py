"""A Heroku web dyno simulated on this machine: slug size, boot time, memory, drift latency.

The deploy is the one of ``tests/service/test_heroku_deploy.py`` (see ``tests/heroku.py``): the app
built with ``pip install -r requirements.txt`` into a fresh virtualenv, the Procfile's
``release:`` on a copy with a fresh PostgreSQL database (``postgres://`` ``DATABASE_URL``),
then the Procfile's ``web:`` on another copy with ``WEB_CONCURRENCY=2`` (Heroku's value for
the Basic dyno app.json names, 512 MB). Printed:

- the compressed slug (tar.gz of the app folder with its installed packages; Heroku adds
  the Python runtime, ~30 MB compressed) — target < 200 MB;
- boot time: from starting the web command to the first 200 of ``POST /predict``;
- PSS of the web process tree (gunicorn master + workers; ``Pss`` of
  ``/proc/<pid>/smaps_rollup`` summed) after a warm-up (predictions, feedback,
  ``/monitoring/*``, the dashboard) and after the log is filled to 1,000,000 predictions
  (PostgreSQL ``COPY``) and read by ``/monitoring/*`` and the dashboard, sampled every
  0.2 s during those calls (the peak is printed) — target < 400 MB both times;
- ``GET /monitoring/drift`` latency at 1M rows (median of 3) — target < 2 s.

Run: ``.venv/bin/python bench/dyno.py`` (``--rows 100000`` for a quicker look; ``--slug
FOLDER`` reuses a slug built earlier by this script, printed at its end).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from serve import data_dir as bike_data_dir  # noqa: E402 - the sibling bench

from databases import fresh_database  # noqa: E402
from heroku import (  # noqa: E402
    app_json_env,
    build_slug,
    compressed_size,
    copy_slug,
    process_env,
    release_command,
    run_in,
)
from servers import INSTANCE, ProcfileServer  # noqa: E402

MB = 1_000_000
MIB = 1 << 20


def tree_memory(root_pid: int) -> dict[int, tuple[int, int]]:
    """``{pid: (Pss, Private)}`` in bytes for every process of the group led by ``root_pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != root_pid:
                continue
            fields = dict(line.split(":", 1) for line in (entry / "smaps_rollup").read_text().splitlines()[1:])
        except (OSError, ProcessLookupError, ValueError):
            continue
        kib = {key: int(value.split()[0]) * 1024 for key, value in fields.items()}
        found[int(entry.name)] = (kib["Pss"], kib["Private_Clean"] + kib["Private_Dirty"])
    return found


def tree_pss(root_pid: int) -> int:
    """Bytes of PSS of every process in the process group led by ``root_pid``."""
    return sum(pss for pss, _private in tree_memory(root_pid).values())


def breakdown(root_pid: int) -> str:
    """Each process of the tree (master or worker) with its PSS and private memory, in MB."""
    return ", ".join(
        f"{'master' if pid == root_pid else 'worker'} {pss / MB:.0f} (private {private / MB:.0f})"
        for pid, (pss, private) in sorted(tree_memory(root_pid).items())
    )


class PeakPss:
    """Sample the tree's PSS every 0.2 s inside a ``with`` block; ``peak`` is the largest."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid, self.peak, self._stop = root_pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_pss(self.root_pid))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_pss(self.root_pid))


def warm_up(url: str, token: str) -> None:
    """Predictions, feedback, monitoring and the dashboard, as light real use."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=120) as client:
        ids = []
        for i in range(300):
            body = {"instances": [{**INSTANCE, "hr": (i + k) % 24} for k in range(1 + i % 10)]}
            ids += [p["id"] for p in client.post("/predict", json=body).raise_for_status().json()["predictions"]]
        client.post("/feedback", json=[{"id": i, "cnt": 20.0} for i in ids[:500]], headers=auth).raise_for_status()
        read_everything(client)


def read_everything(client: httpx.Client) -> None:
    """The monitoring routes, the dashboard page, its data and metrics, once each."""
    for path in ("/monitoring/drift", "/monitoring/performance", "/dashboard/data.json", "/", "/metrics"):
        client.get(path).raise_for_status()


def fill_log(database_url: str, rows: int) -> float:
    """Append ``rows`` predictions (a third labelled) to the log with COPY; return seconds."""
    import psycopg

    from modelmedic.service.schemas import FEATURE_NAMES

    began = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    columns = ["id", "created_at", "model_version", *FEATURE_NAMES, "prediction", "cnt", "labelled_at"]
    statement = f"COPY prediction_log ({', '.join(columns)}) FROM STDIN"
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor, cursor.copy(statement) as copy:
        for i in range(rows):
            created = now - dt.timedelta(seconds=(rows - i) * 2)
            features = [{**INSTANCE, "hr": i % 24, "temp": 0.1 + (i % 80) / 100}[name] for name in FEATURE_NAMES]
            label = (float(i % 300), created) if i % 3 == 0 else (None, None)
            copy.write_row([f"bench-{i:08d}", created, "1", *features, float(i % 250), *label])
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="predictions in the log for the second read")
    parser.add_argument("--slug", type=Path, help="a slug folder built earlier (skips the build)")
    args = parser.parse_args()
    data_dir = str(bike_data_dir())  # MODELMEDIC_DATA_DIR, the cache, the download
    work = Path(tempfile.mkdtemp(prefix="modelmedic-dyno-"))

    if args.slug is None:
        began = time.perf_counter()
        slug = build_slug(work, work / "build.log")
        print(f"build: pip install -r requirements.txt in {time.perf_counter() - began:.0f} s ({slug})")
    else:
        slug = args.slug
    size = compressed_size(slug, work / "slug.tar.gz")
    print(f"compressed slug: {size / MB:.0f} MB ({size / MIB:.0f} MiB)  [target < 200 MB]")

    with fresh_database("modelmedic_bench") as url:
        # no answer cache: every /monitoring/drift below is computed (the timing and the memory)
        config = {**app_json_env(slug), "DATABASE_URL": url, "MODELMEDIC_MONITORING_CACHE_SECONDS": "0"}
        release = copy_slug(slug, work / "release")
        began = time.perf_counter()
        done = run_in(release, release_command(release), {**config, "MODELMEDIC_DATA_DIR": data_dir})
        if done.returncode != 0:
            raise SystemExit(f"release failed: {done.stderr[-2000:]}")
        print(f"release phase (migrations + training the champion): {time.perf_counter() - began:.0f} s")

        app = copy_slug(slug, work / "web")
        dyno = ProcfileServer(process_env(app, config), work / "web.log", workers=2, root=app)
        began = time.perf_counter()
        dyno.start(timeout=300)
        with httpx.Client(base_url=dyno.url, timeout=30) as client:
            while client.post("/predict", json=INSTANCE).status_code != 200:
                time.sleep(0.05)
        print(f"boot to first 200 of /predict: {time.perf_counter() - began:.1f} s  [Heroku allows 60 s]")
        try:
            root_pid = dyno.process.pid  # type: ignore[union-attr]
            with PeakPss(root_pid) as peak:
                warm_up(dyno.url, config["MODELMEDIC_API_TOKEN"])
            print(
                f"PSS after warm-up: {tree_pss(root_pid) / MB:.0f} MB (peak {peak.peak / MB:.0f} MB)  [target < 400 MB]"
            )
            print(f"  per process, MB: {breakdown(root_pid)}")

            seconds = fill_log(url.replace("postgres://", "postgresql://", 1), args.rows)
            print(f"log filled with {args.rows:,} predictions by COPY in {seconds:.0f} s")
            with PeakPss(root_pid) as peak, httpx.Client(base_url=dyno.url, timeout=600) as client:
                latencies = []
                for _ in range(3):
                    began = time.perf_counter()
                    client.get("/monitoring/drift").raise_for_status()
                    latencies.append(time.perf_counter() - began)
                read_everything(client)
            print(
                f"/monitoring/drift at {args.rows:,} rows: median {statistics.median(latencies):.2f} s, "
                f"max {max(latencies):.2f} s  [target < 2 s]"
            )
            print(
                f"PSS at {args.rows:,} rows: {tree_pss(root_pid) / MB:.0f} MB (peak {peak.peak / MB:.0f} MB)  "
                "[target < 400 MB]"
            )
            print(f"  per process, MB: {breakdown(root_pid)}")
        finally:
            dyno.stop()
    print(f"slug kept for --slug: {slug}")


if __name__ == "__main__":
    main()
