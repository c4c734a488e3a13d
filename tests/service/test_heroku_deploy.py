"""A Heroku deploy, simulated for real: build, release, two web dynos, a restart, a one-off job.

How each Heroku step is stood in for is described in ``tests/heroku.py``: the slug is built
once per session with ``pip install -r requirements.txt`` into a fresh virtualenv (minutes:
the tests are ``slow``), and every process runs on its own copy of it, sharing only one fresh
PostgreSQL database given as ``postgres://`` ``DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from databases import fresh_database
from heroku import VENV, app_json_env, build_slug, copy_slug, process_env, release_command, run_in
from servers import INSTANCE, ProcfileServer, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
BOOT_SECONDS = 60  # each dyno must bind $PORT and answer within this


@pytest.fixture(scope="session")
def slug(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app built as the Python buildpack builds it, moved away from where it was built."""
    workdir = tmp_path_factory.mktemp("heroku")
    return build_slug(workdir, workdir / "build.log")


@dataclass
class HerokuApp:
    """One simulated app: its slug, its config vars, its dynos."""

    slug: Path
    root: Path
    config: dict[str, str]
    release: subprocess.CompletedProcess[str] | None = None
    dynos: list[ProcfileServer] = field(default_factory=list)
    copies: int = 0

    def fresh_copy(self, name: str) -> Path:
        self.copies += 1
        return copy_slug(self.slug, self.root / f"{self.copies:02d}-{name}")

    def start_dyno(self, name: str) -> ProcfileServer:
        """A web dyno on a fresh copy of the slug, bound to 127.0.0.1:$PORT."""
        app = self.fresh_copy(name)
        dyno = ProcfileServer(process_env(app, self.config), self.root / f"{name}.log", workers=2, root=app)
        self.dynos.append(dyno)
        return dyno.start(timeout=BOOT_SECONDS)

    def one_off(self, command: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
        """``heroku run <command>`` on a fresh copy (the bike data from a local folder)."""
        return run_in(self.fresh_copy("run"), command, {**self.config, "MODELMEDIC_DATA_DIR": str(data_dir)})


@pytest.fixture(scope="module")
def heroku_app(slug: Path, tmp_path_factory: pytest.TempPathFactory, bike_dir: Path) -> Iterator[HerokuApp]:
    """A new app from app.json on a fresh database, after its release phase ran."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_database("modelmedic_heroku"))
        except LookupError as exc:
            pytest.skip(str(exc))
        # a short refresh (`heroku config:set MODELMEDIC_MODEL_REFRESH_SECONDS=5`) keeps the test quick
        config = {**app_json_env(slug), "DATABASE_URL": url, "MODELMEDIC_MODEL_REFRESH_SECONDS": "5"}
        app = HerokuApp(slug, tmp_path_factory.mktemp("dynos"), config)
        stack.callback(lambda: [dyno.stop() for dyno in app.dynos])
        release = app.fresh_copy("release")
        app.release = run_in(release, release_command(release), {**app.config, "MODELMEDIC_DATA_DIR": str(bike_dir)})
        yield app


def served(dyno: ProcfileServer) -> tuple[str, str]:
    """``(version, run id)`` a dyno answers ``/model`` with."""
    answer = httpx.get(f"{dyno.url}/model", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["version"], answer.json()["run_id"]


def predict(dyno: ProcfileServer, hours: range) -> list[str]:
    """Ask a dyno for one prediction per hour; return the prediction ids."""
    body = {"instances": [{**INSTANCE, "hr": hour} for hour in hours]}
    answer = httpx.post(f"{dyno.url}/predict", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return [p["id"] for p in answer.json()["predictions"]]


def monitoring(dyno: ProcfileServer, path: str) -> dict:
    """``GET /monitoring/<path>`` as an anonymous caller: retried while a measurement runs
    (429 with ``Retry-After``, e.g. the scheduled drift check of a dyno that just booted)."""
    answers: list[httpx.Response] = []

    def answered() -> bool:
        answers.append(httpx.get(f"{dyno.url}/monitoring/{path}", timeout=60))
        return answers[-1].status_code != 429

    wait_until(answered, 60, f"/monitoring/{path} to answer", interval=1)
    assert answers[-1].status_code == 200, answers[-1].text
    return answers[-1].json()


def test_the_slug_holds_the_web_process_only(slug: Path) -> None:
    site = next((slug / VENV / "lib").glob("python3*/site-packages"))

    assert (site / "modelmedic" / "dashboard" / "static" / "plotly.min.js").is_file()
    for package in ("gunicorn", "uvicorn_worker", "psycopg", "mlflow", "sklearn"):
        assert (site / package).is_dir(), package
    for package in ("evidently", "plotly", "matplotlib", "pyarrow", "flask"):
        assert not (site / package).exists(), f"{package} is in the slug"


def test_two_dynos_and_a_restarted_one_serve_the_release_model(heroku_app: HerokuApp) -> None:
    release = heroku_app.release
    assert release is not None and release.returncode == 0, release.stderr[-3000:] if release else None
    assert "ready: model models:/bike-demand@champion version 1 (trained now)" in release.stdout

    first, second = heroku_app.start_dyno("web.1"), heroku_app.start_dyno("web.2")
    ids = predict(first, range(0, 6)) + predict(second, range(6, 12))
    token = {"Authorization": f"Bearer {heroku_app.config['MODELMEDIC_API_TOKEN']}"}
    feedback = httpx.post(f"{second.url}/feedback", json=[{"id": i, "cnt": 10.0} for i in ids], headers=token)
    model = served(first)
    assert served(second) == model and model[0] == "1" and model[1]
    assert feedback.status_code == 200 and feedback.json()["accepted"] == len(ids)

    first.stop()  # Heroku's daily restart: a new dyno on an empty disk
    restarted = heroku_app.start_dyno("web.1-restarted")
    performance = monitoring(restarted, "performance")

    assert served(restarted) == model
    assert performance["rows"] >= len(ids) and performance["labelled"] >= len(ids)
    assert predict(restarted, range(3))


def test_a_champion_from_a_one_off_dyno_is_what_the_next_dyno_serves(heroku_app: HerokuApp, bike_dir: Path) -> None:
    before = served(heroku_app.dynos[1])
    trained = heroku_app.one_off("modelmedic train --kind rf", bike_dir)
    assert trained.returncode == 0, trained.stderr[-3000:]

    fresh = heroku_app.start_dyno("web.3")
    after = served(fresh)

    assert after[0] == "2" and after[1] != before[1]
    assert predict(fresh, range(2))


def test_running_dynos_switch_every_worker_to_the_new_champion(heroku_app: HerokuApp) -> None:
    """The champion registered by the one-off dyno above reaches every worker of the dynos
    that were running, by their own refresh and without a restart; no answer in between
    comes from a third model; a reload then confirms every worker of each dyno."""
    running = [d for d in heroku_app.dynos if d.process is not None and d.process.poll() is None]
    token = {"Authorization": f"Bearer {heroku_app.config['MODELMEDIC_API_TOKEN']}"}
    assert len(running) >= 2
    seen: set[str] = set()

    def every_worker_serves_version_2() -> bool:
        # 20 calls per dyno reach both of its workers (the kernel spreads new connections)
        versions = [
            httpx.get(f"{dyno.url}/model", timeout=30, headers={"Connection": "close"}).json()["version"]
            for dyno in running
            for _ in range(20)
        ]
        seen.update(versions)
        return all(version == "2" for version in versions)

    wait_until(every_worker_serves_version_2, 60, "every worker of every dyno to serve version 2", interval=1)
    assert seen <= {"1", "2"}
    for dyno in running:
        answer = httpx.post(f"{dyno.url}/admin/reload", headers=token, timeout=120)
        assert answer.status_code == 200, answer.text
        assert answer.json()["complete"] and set(answer.json()["workers"].values()) == {"2"}
