"""The MLflow UI over modelmedic's tracking store: the ``mlflow server`` command line and
its environment, and a runner that stops the whole server when it is stopped.

Nothing here imports ``mlflow``: the server is a child process, ``python -m mlflow server``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass

from modelmedic.config import Settings
from modelmedic.extras import require
from modelmedic.tracking.runs import artifact_location


@dataclass(frozen=True)
class ServerLaunch:
    """How to start the MLflow server: its command line and its environment."""

    command: list[str]
    env: dict[str, str]


def is_server_uri(uri: str) -> bool:
    """Whether the tracking URI names an MLflow server already (``http(s)://``)."""
    return uri.startswith(("http://", "https://"))


def mlflow_server(settings: Settings, host: str = "127.0.0.1", port: int = 5000) -> ServerLaunch:
    """The ``mlflow server`` command for the settings' tracking store, bound to ``host:port``.

    The store URI may hold a password: it travels in the environment, which, unlike argv,
    ``ps`` does not show. ``MODELMEDIC_TRACKING_URI`` lets the server find artifacts kept in
    the database (``modelmedic-db:``). The default store's home folder is created.

    Returns:
        The command line (one worker) and its environment.

    Raises:
        MissingExtraError: when MLflow's server (flask) is not installed.
    """
    require("flask", purpose="the MLflow UI (mlflow with its server)")
    uri = settings.resolved_tracking_uri
    if settings.uses_default_store:
        settings.ensure_home()
    command = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port), "--workers", "1"]
    env = {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": uri,
        "MLFLOW_DEFAULT_ARTIFACT_ROOT": artifact_location("", settings) or settings.artifact_root.as_uri(),
        "MODELMEDIC_TRACKING_URI": uri,
    }
    # MLflow's job runner (GenAI scorers) starts ~8 processes of ~230 MB each; the UI needs none
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return ServerLaunch(command, env)


def run_process_group(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` in a process group of its own until it exits, or until this process
    is interrupted (Ctrl+C) or terminated (SIGTERM): then the whole group is stopped, so no
    server process it started outlives it.

    Returns:
        The command's exit code (0 when it was stopped).
    """
    process = subprocess.Popen(command, env=env, start_new_session=True)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
                process.wait(grace)
                return 0
            except ProcessLookupError:
                return 0
            except subprocess.TimeoutExpired:
                continue
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
