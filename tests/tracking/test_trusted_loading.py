"""Models load only in a format whose loader cannot run code, unless the user opted in.

The hostile model is a real scikit-learn pipeline saved by MLflow with
``serialization_format: pickle``, carrying an object whose unpickling writes a marker file:
what any code could do in its place.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from modelmedic import tracking
from modelmedic.cli import app as cli_app
from modelmedic.config import Settings
from modelmedic.errors import UntrustedModelError
from servers import INSTANCE, ThreadServer

TOKEN = "trusted-loading-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class WritesMarker:
    """Unpickling this creates ``path`` (a stand-in for any code a model file could run)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.path),))


def log_and_register(model: Any, settings: Settings, **log_options: Any) -> str:
    """Log ``model`` with MLflow's own sklearn flavor (options as given) and make it champion."""
    import mlflow
    import mlflow.sklearn

    tracking.configure(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id("hostile-models", settings)):
        info = mlflow.sklearn.log_model(model, name="model", **log_options)
    return tracking.register(info.model_uri, settings.model_name, settings=settings)


def register_pickle_champion(settings: Settings, bike, bike_schema, marker: Path) -> str:
    """A working forest saved with pickle that writes ``marker`` when loaded, as champion."""
    from modelmedic.model import build_model, feature_frame, fit

    rows = bike.loc["2011-01-01":"2011-01-28"]
    model = fit(build_model("rf", bike_schema, n_estimators=5), rows, bike_schema)
    model.loaded_marker = WritesMarker(marker)
    version = log_and_register(
        model, settings, serialization_format="pickle", input_example=feature_frame(rows.head(5), bike_schema)
    )
    marker.unlink(missing_ok=True)  # MLflow may have loaded it back while logging
    return version


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "code-ran"


@pytest.fixture
def pickle_champion(settings: Settings, bike, bike_schema, marker: Path) -> str:
    return register_pickle_champion(settings, bike, bike_schema, marker)


@pytest.mark.parametrize("target", ["champion", "model-uri"])
def test_check_refuses_a_pickle_model_without_running_it(
    settings: Settings, pickle_champion: str, marker: Path, target: str
) -> None:
    option = ["--model-uri", f"models:/{settings.model_name}/{pickle_champion}"] if target == "model-uri" else []

    result = CliRunner().invoke(cli_app, ["--home", str(settings.home), "serve", "--check", *option])

    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "MODELMEDIC_TRUST_PICKLE=1" in lines[0] and "pickle" in lines[0], result.output
    assert not marker.exists()


def test_check_loads_a_pickle_model_when_the_user_opts_in(
    settings: Settings, pickle_champion: str, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelmedic.service.prediction_log import PredictionStore

    monkeypatch.setenv("MODELMEDIC_TRUST_PICKLE", "1")
    PredictionStore(f"sqlite:///{settings.home / 'predictions.db'}").open().close()  # a check creates none

    result = CliRunner().invoke(cli_app, ["--home", str(settings.home), "serve", "--check"])

    assert result.exit_code == 0, result.output
    assert marker.exists()


def test_a_skops_model_trusting_foreign_types_in_its_own_mlmodel_is_refused(settings: Settings) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    hostile = Pipeline([("clean", FunctionTransformer(func=shutil.rmtree))])
    version = log_and_register(
        hostile, settings, serialization_format="skops", skops_trusted_types=["shutil.rmtree"], signature=False
    )

    with pytest.raises(UntrustedModelError, match=r"shutil\.rmtree.*MODELMEDIC_TRUST_PICKLE=1"):
        tracking.load_trusted_model(f"models:/{settings.model_name}/{version}", settings)


def test_trained_models_load_with_their_input_example(trained, settings: Settings) -> None:
    loaded = tracking.load_trusted_model(f"models:/{settings.model_name}@champion", settings)

    assert loaded.input_example is not None and len(loaded.input_example) == 5
    assert loaded.model.predict(loaded.input_example).shape == (5,)


def test_monitor_refuses_a_pickle_champion(settings: Settings, pickle_champion: str, marker: Path) -> None:
    from modelmedic.monitor import resolve_model

    with pytest.raises(UntrustedModelError):
        resolve_model(None, None, settings)
    assert not marker.exists()


def test_reload_refuses_a_pickle_champion_and_keeps_serving(
    trained, settings: Settings, bike, bike_schema, marker: Path, tmp_path: Path
) -> None:
    from modelmedic.service.app import create_app

    served = settings.model_copy(update={"api_token": TOKEN, "database_url": f"sqlite:///{tmp_path / 'log.db'}"})
    with ThreadServer(create_app(served)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        register_pickle_champion(settings, bike, bike_schema, marker)
        reload = client.post("/admin/reload", headers=AUTH)
        model, predicted = client.get("/model").json(), client.post("/predict", json=INSTANCE)

    assert reload.status_code == 409
    assert "MODELMEDIC_TRUST_PICKLE=1" in reload.json()["detail"] and "\n" not in reload.json()["detail"]
    assert not marker.exists()
    assert model["version"] == "1" and predicted.json()["model_version"] == "1"

    trusting = served.model_copy(update={"trust_pickle": True})
    with ThreadServer(create_app(trusting)) as server:
        assert httpx.get(f"{server.url}/model", timeout=60).json()["version"] == "2"
    assert marker.exists()
