"""The dyno's board: a folder through which the workers of one gunicorn master agree on a model.

``POST /admin/reload`` raises a generation that names the version every worker must serve
(``MODELMEDIC_RELOAD_DIR``); each worker writes what it serves there, and the master
forgets a worker that exited (:func:`forget_worker`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any


class WorkerBoard:
    """The dyno-local folder through which the workers of one server agree on a model.

    ``generation.json`` holds ``{"generation": n, "version": v}``, raised by a reload;
    ``worker-<pid>.json`` holds what that worker serves and the last generation it applied.
    Every file is replaced atomically (written aside, then renamed).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of generation.json read last

    def _write(self, name: str, value: dict[str, Any]) -> None:
        aside = self.folder / f".{name}.{os.getpid()}"
        aside.write_text(json.dumps(value))
        os.replace(aside, self.folder / name)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def raise_generation(self, version: str) -> int:
        """Ask every worker to serve ``version``; returns the new generation."""
        with open(self.folder / "generation.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            generation = int(self._read(self.folder / "generation.json").get("generation", 0)) + 1
            self._write("generation.json", {"generation": generation, "version": version})
        return generation

    def generation(self) -> tuple[int, str | None]:
        """``(generation, version)`` asked for last (``(0, None)`` before any reload)."""
        found = self._read(self.folder / "generation.json")
        return int(found.get("generation", 0)), found.get("version")

    def changed(self) -> bool:
        """Whether ``generation.json`` changed since the last call (one ``stat``)."""
        try:
            status = (self.folder / "generation.json").stat()
        except OSError:
            return False
        seen, self._seen = self._seen, (status.st_mtime_ns, status.st_size)
        return seen != self._seen

    def report(self, version: str, generation: int, error: str | None = None) -> None:
        """Record what this worker serves, the generation it applied and why it refused one."""
        self._write(f"worker-{os.getpid()}.json", {"version": version, "generation": generation, "error": error})

    def workers(self) -> dict[str, dict[str, Any]]:
        """What each live worker reported, by pid."""
        found = {}
        for path in self.folder.glob("worker-*.json"):
            pid = path.stem.removeprefix("worker-")
            if pid.isdigit() and _alive(int(pid)):
                found[pid] = self._read(path)
        return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_worker(folder: str | Path, pid: int) -> None:
    """Drop the record of worker ``pid`` (it exited)."""
    with contextlib.suppress(OSError):
        (Path(folder) / f"worker-{pid}.json").unlink()
