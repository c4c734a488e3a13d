"""A Heroku deploy simulated on this machine: build a slug, release it, run dynos on copies.

What Heroku does, and what stands in for it here:

- **build**: the Python buildpack installs ``requirements.txt`` into the app folder (a clean
  clone of the pushed commit). Here: the files git tracks (as they are in the working tree)
  are copied into a fresh folder and ``pip install -r requirements.txt`` runs into a virtual
  environment inside it (from the package index pip is configured with; nothing is reused
  from the test's own environment). The buildpack builds where the app will run, so the
  paths it writes stay valid; a venv is not relocatable, so the scripts' interpreter lines
  are rewritten to ``#!/usr/bin/env python3`` and the venv's ``bin`` is put first on PATH,
  which resolves them inside whichever copy runs.
- **slug**: the built folder is moved elsewhere; every process runs on its own copy of it
  (hard links: no file is modified in place, new files land in the copy's own folders), so
  each starts with the slug's files only and loses what it writes.
- **release** and **web**: the Procfile's commands run by bash in a copy, with app.json's
  env values (a ``generator: secret`` becomes a random token), ``DATABASE_URL`` in Heroku's
  ``postgres://`` form and ``PORT``; ``0.0.0.0`` becomes ``127.0.0.1``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from servers import CLEARED_ENV, ROOT, procfile_command

VENV = ".heroku-venv"


def tracked_files(root: Path = ROOT) -> list[str]:
    """The files git tracks in ``root`` (what a clone of the pushed commit holds)."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name and (root / name).is_file()]


def build_slug(workdir: Path, log: Path) -> Path:
    """Build the app as the buildpack does and move it to ``workdir / "slug"``; return that.

    Raises:
        AssertionError: when ``pip install -r requirements.txt`` fails (its output is in ``log``).
    """
    build = workdir / "build"
    for name in tracked_files():
        target = build / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    base_python = getattr(sys, "_base_executable", sys.executable)
    with open(log, "wb") as out:
        for command in (
            [base_python, "-m", "venv", VENV],
            [f"{VENV}/bin/python", "-m", "pip", "install", "--no-input", "-r", "requirements.txt"],
        ):
            done = subprocess.run(command, cwd=build, stdout=out, stderr=subprocess.STDOUT, env=clean_env())
            if done.returncode != 0:
                raise AssertionError(f"the build failed: {' '.join(command)} (log: {log})")
    _relocatable_scripts(build / VENV / "bin")
    slug = workdir / "slug"
    build.rename(slug)
    return slug


def _relocatable_scripts(bin_dir: Path) -> None:
    """Point the venv's scripts at ``python3`` on PATH instead of the build folder's path."""
    for script in bin_dir.iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        content = script.read_bytes()
        if content.startswith(b"#!") and VENV.encode() in content.split(b"\n", 1)[0]:
            script.write_bytes(b"#!/usr/bin/env python3\n" + content.split(b"\n", 1)[1])


def copy_slug(slug: Path, target: Path) -> Path:
    """A fresh copy of the slug at ``target`` (a dyno's or a one-off's disk)."""
    subprocess.run(["cp", "-al", str(slug), str(target)], check=True)
    return target


def clean_env() -> dict[str, str]:
    """This environment without store settings and without the test's own virtualenv."""
    own_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in (*CLEARED_ENV, "VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != own_bin)
    return env


def app_json_env(root: Path = ROOT) -> dict[str, str]:
    """The config vars app.json gives a new app: values, and a random secret per generator."""
    manifest = json.loads((root / "app.json").read_text())
    values = {}
    for name, spec in manifest.get("env", {}).items():
        if "value" in spec:
            values[name] = str(spec["value"])
        elif spec.get("generator") == "secret":
            values[name] = secrets.token_hex(32)
    return values


def process_env(app: Path, config: dict[str, str]) -> dict[str, str]:
    """The environment of a process running in the copy ``app`` with the app's config vars."""
    env = clean_env()
    env["PATH"] = f"{app / VENV / 'bin'}{os.pathsep}{env['PATH']}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(config)
    return env


def run_in(app: Path, command: str, config: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with bash in the copy ``app`` (the release phase, a one-off dyno)."""
    return subprocess.run(
        ["bash", "-c", command], cwd=app, env=process_env(app, config), capture_output=True, text=True, timeout=timeout
    )


def release_command(app: Path) -> str:
    """The Procfile's ``release:`` command of ``app``."""
    return procfile_command("release", app)


def compressed_size(folder: Path, archive: Path) -> int:
    """Bytes of ``folder`` as a gzip-compressed tar (how Heroku stores and measures a slug)."""
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:  # gzip's default, as `tar czf`
        tar.add(folder, arcname="app")
    return archive.stat().st_size
