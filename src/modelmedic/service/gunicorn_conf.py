"""gunicorn settings of the Procfile's ``web`` process (``-c python:modelmedic.service.gunicorn_conf``).

- uvicorn workers, as many as ``WEB_CONCURRENCY`` (Heroku sets it by dyno size; 2 here
  otherwise);
- before any worker starts, the master runs :func:`~modelmedic.service.lifecycle.preflight`
  once: it migrates the prediction log (so workers never race to) and checks that a model
  exists. A missing model or an unreachable ``DATABASE_URL`` stops the process with one
  line naming the fix. With ``MODELMEDIC_TRAIN_ON_BOOT=true`` a missing model is trained
  instead (a dyno's disk is not shared with the release phase: see the README);
- Prometheus counters are shared by the workers through ``PROMETHEUS_MULTIPROC_DIR``
  (a fresh temporary folder unless set), so ``/metrics`` counts the whole dyno.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

TRUE = {"1", "true", "yes", "on"}

worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
timeout = 30
graceful_timeout = 20  # Heroku waits 30 s after SIGTERM before SIGKILL
keepalive = 5
control_socket_disable = True  # gunicorn >= 26: no ~/.gunicorn socket shared by every server

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="modelmedic-metrics-")


def on_starting(server: Any) -> None:
    """Prepare the log and find the model before forking workers; exit on a user error."""
    from modelmedic.cli import quiet_libraries
    from modelmedic.config import get_settings
    from modelmedic.errors import ModelmedicError
    from modelmedic.service.lifecycle import preflight

    quiet_libraries()
    train = os.environ.get("MODELMEDIC_TRAIN_ON_BOOT", "").strip().lower() in TRUE
    try:
        report = preflight(get_settings(), train_if_missing=train)
    except ModelmedicError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code or 1)
    server.log.info(report.line())


def child_exit(_server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
