"""The suite finds the bike data as users do, and stops with one line when it cannot."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_TEST = "tests/test_windows.py"  # a quick file whose tests use the bike data


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_suite(tmp_path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MODELMEDIC_", "PYTEST_"))}
    env["MODELMEDIC_CACHE_DIR"] = str(cache)
    env["MODELMEDIC_DATA_URLS"] = json.dumps([f"http://127.0.0.1:{closed_port()}/bike.zip"])
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", DATA_TEST]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_no_data_source_stops_the_run_with_one_line(tmp_path: Path) -> None:
    done = run_suite(tmp_path, tmp_path / "empty-cache")
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert "MODELMEDIC_DATA_DIR" in output
    assert "passed" not in output and "skipped" not in output


def test_the_cache_filled_by_the_demo_is_enough(tmp_path: Path, bike_dir: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "bike-sharing").mkdir(parents=True)
    for name in ("hour.csv", "day.csv"):
        shutil.copy(bike_dir / name, cache / "bike-sharing" / name)
    done = run_suite(tmp_path, cache)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert " passed" in output and "skipped" not in output
