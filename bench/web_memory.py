"""Memory of the Procfile's ``web`` process: PSS of the gunicorn master and its workers.

The default model (``hgb``, HistGradientBoostingRegressor) is trained on the reference period
into a temporary MLflow store; the Procfile's ``web`` command serves it with
``WEB_CONCURRENCY`` workers on 127.0.0.1. After a warm-up (predictions, ``/model``,
``/metrics``, ``/monitoring/drift``) the script prints each process's PSS (the ``Pss`` line
of ``/proc/<pid>/smaps_rollup``: shared pages are split between the processes sharing them)
and their sum, the figure a dyno's memory limit is compared with.

Run: ``.venv/bin/python bench/web_memory.py`` (``--workers 2``, ``--predictions 200``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import httpx
from serve import BIN, ROOT, data_dir, free_port, start, stop, wait_ready


def train_hgb(home: Path) -> None:
    """Train the default model into ``home``'s MLflow store and make it champion."""
    from modelmedic.config import Settings
    from modelmedic.data import load_dataset
    from modelmedic.logs import quiet_libraries
    from modelmedic.training import train_and_register

    quiet_libraries()
    settings = Settings(home=home, data_dir=data_dir())
    frame, schema = load_dataset(None, None, settings, progress=False)
    train_and_register(frame, schema, settings=settings, source="bench")


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def pss_kib(pid: int) -> int:
    """The process's proportional set size in KiB."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY.")
    parser.add_argument("--predictions", type=int, default=200, help="Warm-up predictions.")
    args = parser.parse_args()
    from modelmedic.service.schemas import EXAMPLE_INSTANCE as ROW

    with tempfile.TemporaryDirectory(prefix="modelmedic-bench-") as tmp:
        folder = Path(tmp)
        home = folder / "home"
        print("training the default model (hgb)…", flush=True)
        train_hgb(home)
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MODELMEDIC_MODEL_URI"}}
        port = free_port()
        env.update(
            {
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "MODELMEDIC_HOME": str(home),
                "PORT": str(port),
                "WEB_CONCURRENCY": str(args.workers),
            }
        )
        web = (ROOT / "Procfile").read_text().split("web:", 1)[1].splitlines()[0].strip()
        log = folder / "web.log"
        server = start(["bash", "-c", "exec " + web.replace("0.0.0.0", "127.0.0.1")], env, log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{url}/ready", server, log)
            with httpx.Client(base_url=url, timeout=60) as client:
                for i in range(args.predictions):
                    assert client.post("/predict", json={**ROW, "hr": i % 24}).status_code == 200
                for path in ("/model", "/metrics", "/monitoring/drift", "/monitoring/performance"):
                    client.get(path)
            pids = process_tree(server.pid)
            figures = [(pid, pss_kib(pid), command_line(pid)) for pid in pids]
        finally:
            stop(server)
    print(f"\nProcfile web, WEB_CONCURRENCY={args.workers}, after {args.predictions} predictions")
    for pid, kib, cmd in figures:
        print(f"{pid:>8}  {kib / 1024:8.1f} MiB  {cmd}")
    total = sum(kib for _, kib, _ in figures) / 1024
    print(f"{'total':>8}  {total:8.1f} MiB PSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
