"""Real HTTP servers for the service tests: the Procfile's processes and uvicorn in a thread.

Every server listens on a free loopback port; readiness is polled with a deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from conftest import SERVICE_ENV
from modelmedic.service.schemas import EXAMPLE_INSTANCE

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLEARED_ENV = (*SERVICE_ENV, "WEB_CONCURRENCY", "PORT")
INSTANCE = dict(EXAMPLE_INSTANCE)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def procfile_command(process: str, root: Path = ROOT) -> str:
    """The command of ``process`` (``web``, ``release``) in the Procfile of ``root`` (the repository's)."""
    for line in (root / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == process:
            return command.strip()
    raise AssertionError(f"the Procfile has no '{process}:' process")


def service_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a server on ``home``, with this virtualenv's tools first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(
        {"MODELMEDIC_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    )
    env.update(extra)
    return env


class ProcfileServer:
    """The Procfile's ``web`` command run by bash in its own process group on a loopback port."""

    def __init__(self, env: Mapping[str, str], log: Path, workers: int = 2, root: Path = ROOT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root  # the app folder: its Procfile, and the working directory
        self.command = procfile_command("web", root).replace("0.0.0.0", "127.0.0.1")
        self.env = {**env, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> ProcfileServer:
        """Start the server and wait until ``/ready`` answers 200."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                ["bash", "-c", self.command],
                env=self.env,
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, timeout, f"{self.url}/ready (log: {self.log})", interval=0.25)
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (gunicorn master and workers)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the group, SIGKILL it when it outlives ``timeout``."""
        if self.process is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> ProcfileServer:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


class ThreadServer:
    """An ASGI app under uvicorn in a background thread of the test process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), 120, "uvicorn to start")
        if not self.server.started:
            raise AssertionError("the app failed to start")
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(30)
