"""Settings from ``MODELMEDIC_*`` environment variables (and CLI options).

Nothing happens at import time: no folder is created and no tracking URI is set.
Call :meth:`Settings.ensure_home` / :func:`modelmedic.tracking.configure` when work starts.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DriftEngineName = Literal["fast", "evidently", "spark"]

BIKE_URLS = (
    "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip",
    "https://archive.ics.uci.edu/ml/machine-learning-databases/00275/Bike-Sharing-Dataset.zip",
)


class Settings(BaseSettings):
    """modelmedic's configuration.

    Every field can be set by an environment variable ``MODELMEDIC_<FIELD>`` (upper case);
    ``tracking_uri`` also honours ``MLFLOW_TRACKING_URI`` and ``database_url`` honours
    ``DATABASE_URL`` (Heroku's name).
    """

    model_config = SettingsConfigDict(env_prefix="MODELMEDIC_", extra="ignore", populate_by_name=True)

    home: Path = Field(
        default=Path("modelmedic-home"),
        description="Working folder for the local MLflow store, reports and the prediction log.",
    )
    data_dir: Path | None = Field(
        default=None,
        description="A local copy of the bike data (folder or zip) used instead of downloading.",
    )
    data_urls: list[str] = Field(
        default_factory=lambda: list(BIKE_URLS),
        description="Where the bike data zip is downloaded from, tried in order.",
    )
    cache_dir: Path | None = Field(
        default=None, description="Where downloaded data sets are cached (default: user cache)."
    )
    tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MODELMEDIC_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; default: sqlite database in the home folder.",
    )
    model_name: str = Field(default="bike-demand", description="Registered model name.")
    experiment: str = Field(default="bike-demand", description="MLflow experiment prefix.")
    reference_start: str = Field(default="2011-01-01", description="First day of reference.")
    reference_end: str = Field(default="2011-01-28", description="Last day of reference.")
    drift_engine: DriftEngineName = Field(default="fast", description="Drift engine to use.")
    spark_master: str = Field(
        default="local[*]", description="Spark master of the spark drift engine (SPARK_REMOTE wins: Spark Connect)."
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="Spark settings of the spark drift engine (JSON object of key: value)."
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MODELMEDIC_DATABASE_URL", "DATABASE_URL"),
        description="Prediction log database; default: sqlite in the home folder.",
    )
    model_uri: str | None = Field(default=None, description="MLflow model URI to serve.")
    api_token: str | None = Field(default=None, description="Bearer token for /feedback, /admin.")
    max_batch: int = Field(default=1000, ge=1, description="Most instances per /predict call.")
    seed: int = Field(default=42, description="Random seed for training.")
    mlflow_ui_url: str = Field(
        default="http://127.0.0.1:5000", description="MLflow UI address the dashboard links runs to."
    )

    @field_validator("home", "data_dir", "cache_dir", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
        return value

    @property
    def resolved_tracking_uri(self) -> str:
        """The MLflow tracking URI to use: the configured one or the home folder's sqlite."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{self.default_store.resolve()}"

    @property
    def default_store(self) -> Path:
        """The sqlite MLflow store used when no tracking URI is configured."""
        return self.home / "mlflow.db"

    @property
    def artifact_root(self) -> Path:
        """Artifact folder for experiments created in the local store."""
        return (self.home / "artifacts").resolve()

    @property
    def reports_dir(self) -> Path:
        """Folder for HTML/PNG reports written by monitor and backtest."""
        return self.home / "reports"

    @property
    def monitor_reports_dir(self) -> Path:
        """Where ``modelmedic monitor`` writes one folder per job and ``latest.json``."""
        return self.reports_dir / "monitor"

    @property
    def backtest_reports_dir(self) -> Path:
        """Where ``modelmedic backtest`` writes its latest reports (``backtest.json``...)."""
        return self.reports_dir / "backtest" / "latest"

    def resolved_cache_dir(self) -> Path:
        """The data cache folder (user cache folder unless configured)."""
        if self.cache_dir is not None:
            return self.cache_dir
        from platformdirs import user_cache_path

        return user_cache_path("modelmedic")

    def ensure_home(self) -> Path:
        """Create the home folder when work starts and return it."""
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings read from the environment (cached)."""
    return Settings()
