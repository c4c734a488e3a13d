"""gunicorn settings of the Procfile's ``web`` process (``-c python:modelmedic.service.gunicorn_conf``).

- uvicorn workers, as many as ``WEB_CONCURRENCY`` (Heroku sets it by dyno size; 2 here
  otherwise);
- before any worker starts, the master runs :func:`~modelmedic.service.lifecycle.preflight`
  once: it migrates the prediction log (so workers never race to) and checks that a model
  exists. A missing model or an unreachable ``DATABASE_URL`` stops the process with one
  line naming the fix. The master never trains and never predicts: a thread pool used
  before ``fork`` (OpenMP's, which gradient boosting uses) hangs the workers' predictions.
  The model is trained by the release phase (``modelmedic serve --prepare``);
- the master imports the heavy libraries (import only: no fit, no predict, no thread
  pool) so that their pages are shared copy-on-write by the workers;
- Prometheus counters are shared by the workers through ``PROMETHEUS_MULTIPROC_DIR``
  (so ``/metrics`` counts the whole dyno), and ``POST /admin/reload`` reaches every worker
  through ``MODELMEDIC_RELOAD_DIR`` (fresh temporary folders unless set).
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from typing import Any

from modelmedic import tracking
from modelmedic.config import get_settings
from modelmedic.errors import ModelmedicError, ModelNotFoundError
from modelmedic.logs import quiet_libraries
from modelmedic.service.worker_board import forget_worker

TRUE = {"1", "true", "yes", "on"}

worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
timeout = 30
graceful_timeout = 20  # Heroku waits 30 s after SIGTERM before SIGKILL
keepalive = 5
control_socket_disable = True  # gunicorn >= 26: no ~/.gunicorn socket shared by every server

for _variable, _prefix in (("PROMETHEUS_MULTIPROC_DIR", "metrics"), ("MODELMEDIC_RELOAD_DIR", "reload")):
    if not os.environ.get(_variable):  # folders shared by this master's workers
        os.environ[_variable] = tempfile.mkdtemp(prefix=f"modelmedic-{_prefix}-")


def preload() -> None:
    """Import what every worker imports, so the workers share those pages (import only)."""
    # lazy: the master imports these just before it forks, not when gunicorn reads this file
    import pandas  # noqa: F401  (heavy imports, shared copy-on-write by the workers)
    import prometheus_client  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    # lazy: as above (the served model's drift reference and the app)
    import modelmedic.drift.fast
    import modelmedic.drift.profile
    import modelmedic.service.app  # noqa: F401

    tracking.preload()  # what loading the champion imports (MLflow's model loading, skops)


def on_starting(server: Any) -> None:
    """Prepare the log and find the model before forking workers; exit on a user error."""
    # lazy: modelmedic.service.lifecycle imports fastapi, starlette
    from modelmedic.service.lifecycle import preflight

    quiet_libraries()
    if os.environ.get("MODELMEDIC_TRAIN_ON_BOOT", "").strip().lower() in TRUE:
        server.log.warning("MODELMEDIC_TRAIN_ON_BOOT is ignored: the web process never trains (the release phase does)")
    preload()
    try:
        report = preflight(get_settings())
    except ModelNotFoundError as exc:
        _exit(f"{exc} (on Heroku the release phase, 'modelmedic serve --prepare', trains it)", exc.exit_code)
    except ModelmedicError as exc:
        _exit(str(exc), exc.exit_code)
    server.log.info(report.line())
    gc.freeze()  # the workers' collector leaves the master's objects (and their shared pages) alone


def _exit(message: str, code: int) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code or 1)


def child_exit(_server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges and its record of the model it served."""
    # lazy: metrics only in the service
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    forget_worker(os.environ["MODELMEDIC_RELOAD_DIR"], worker.pid)
