"""Throughput and latency of ``POST /predict``: modelmedic's service against ``mlflow models serve``.

One run, same machine, same model (the tutorial's ``RandomForestRegressor(n_estimators=50)``,
model kind ``rf``, trained on the reference period into a temporary MLflow store):

(a) ``mlflow models serve --env-manager local`` (its defaults: one uvicorn worker);
(b) modelmedic's service started by the Procfile's ``web`` command (gunicorn + uvicorn
    workers, ``WEB_CONCURRENCY`` of them, prediction logging on: SQLite WAL, every
    answered prediction committed before the answer).

Each is loaded by ``wrk`` with a single-row JSON body, 8 connections for 20 s after a short
warm-up, on 127.0.0.1 only. Printed: requests/s, p50 and p99 latency, errors (socket
errors and non-2xx answers) and the ratio; the target is modelmedic >= 2x mlflow's
requests/s with p99 < 50 ms and zero errors.

Run: ``.venv/bin/python bench/serve.py`` (``--duration 5`` for a quick look; the bike data
come from ``MODELMEDIC_DATA_DIR``, else the user cache, else UCI: as users get them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f, "max_ms": %%f, ' ..
    '"errors": %%d, "non_2xx": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def data_dir() -> Path:
    """The verified bike data folder, found as users find it: ``MODELMEDIC_DATA_DIR``, the
    user cache, else the download from UCI."""
    from modelmedic.config import Settings
    from modelmedic.data import ensure_bike_data

    return ensure_bike_data(None, Settings(), progress=False)


def train_rf(home: Path) -> str:
    """Train the tutorial's forest into ``home``'s MLflow store; return its version's URI."""
    from modelmedic.config import Settings
    from modelmedic.data import load_dataset
    from modelmedic.logs import quiet_libraries
    from modelmedic.training import train_and_register

    quiet_libraries()
    settings = Settings(home=home, data_dir=data_dir())
    frame, schema = load_dataset(None, None, settings, progress=False)
    result = train_and_register(frame, schema, settings=settings, kind="rf", source="bench")
    return f"models:/{settings.model_name}/{result.version}"


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{url} not ready after {timeout:.0f} s:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def load(url: str, body: dict[str, Any], seconds: int, connections: int, folder: Path) -> dict[str, Any]:
    """Run wrk against ``url`` (2 s warm-up, then ``seconds``); return its figures."""
    script = folder / "post.lua"
    script.write_text(WRK_SCRIPT % json.dumps(body))
    base = ["wrk", "-t2", f"-c{connections}", "-s", str(script), url]
    subprocess.run([*base[:1], "-d2s", *base[1:]], capture_output=True, check=True, timeout=60)
    done = subprocess.run(
        [*base[:1], f"-d{seconds}s", "--timeout", "5s", *base[1:]],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"wrk printed no figures:\n{done.stdout}\n{done.stderr}")
    figures = json.loads(lines[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="Seconds of load per server.")
    parser.add_argument("--connections", type=int, default=8, help="Concurrent connections.")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY for modelmedic.")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    from modelmedic.schema import builtin_schema
    from modelmedic.service.schemas import EXAMPLE_INSTANCE as ROW

    features = builtin_schema("bike-hour").features
    mlflow_body = {"dataframe_split": {"columns": features, "data": [[ROW[c] for c in features]]}}
    with tempfile.TemporaryDirectory(prefix="modelmedic-bench-") as tmp:
        folder = Path(tmp)
        home = folder / "home"
        print("training the rf model (RandomForestRegressor, 50 trees)…", flush=True)
        model_uri = train_rf(home)
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MODELMEDIC_MODEL_URI"}}
        env.update(
            {
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "MODELMEDIC_HOME": str(home),
                "MLFLOW_TRACKING_URI": f"sqlite:///{(home / 'mlflow.db').resolve()}",
            }
        )
        results: dict[str, dict[str, Any]] = {}

        port = free_port()
        log = folder / "mlflow.log"
        server = start(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                model_uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env,
            log,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/ping", server, log)
            print(f"loading mlflow models serve for {args.duration} s…", flush=True)
            results["mlflow models serve"] = load(
                f"http://127.0.0.1:{port}/invocations", mlflow_body, args.duration, args.connections, folder
            )
        finally:
            stop(server)

        port = free_port()
        log = folder / "modelmedic.log"
        web = (
            (ROOT / "Procfile").read_text().split("web:", 1)[1].splitlines()[0].strip().replace("0.0.0.0", "127.0.0.1")
        )
        server = start(["bash", "-c", web], {**env, "PORT": str(port), "WEB_CONCURRENCY": str(args.workers)}, log)
        try:
            wait_ready(f"http://127.0.0.1:{port}/ready", server, log)
            print(
                f"loading modelmedic (Procfile web, {args.workers} workers, logging on) for {args.duration} s…",
                flush=True,
            )
            results["modelmedic serve"] = load(
                f"http://127.0.0.1:{port}/predict", ROW, args.duration, args.connections, folder
            )
        finally:
            stop(server)
        from modelmedic.service.prediction_log import PredictionStore

        store = PredictionStore(f"sqlite:///{home / 'predictions.db'}")
        logged = store.count()
        store.close()

    print(f"\nPOST single row, wrk -c{args.connections} for {args.duration} s, 127.0.0.1, {os.cpu_count()} cores")
    print(f"{'server':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for name, r in results.items():
        errors = r["errors"] + r["non_2xx"]
        print(f"{name:<22}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}{errors:>8}")
    ours, theirs = results["modelmedic serve"], results["mlflow models serve"]
    ratio = ours["rps"] / theirs["rps"]
    answered = ours["requests"] - ours["errors"] - ours["non_2xx"]
    print(
        f"ratio modelmedic / mlflow: {ratio:.2f}x; predictions in modelmedic's log: {logged} "
        f"(>= {answered} answered in the measured run, warm-up included)"
    )
    met = ratio >= 2 and ours["p99_ms"] < 50 and ours["errors"] + ours["non_2xx"] == 0
    print(f"target (>= 2x, p99 < 50 ms, 0 errors): {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
