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

# Heroku's and libpq's spellings of a PostgreSQL URL; SQLAlchemy (and so MLflow) wants a driver.
_POSTGRES_PREFIXES = ("postgres://", "postgresql://")
POSTGRES_DRIVER_PREFIX = "postgresql+psycopg://"  # psycopg 3, installed with modelmedic

BIKE_URLS = (
    "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip",
    "https://archive.ics.uci.edu/ml/machine-learning-databases/00275/Bike-Sharing-Dataset.zip",
)


class Settings(BaseSettings):
    """modelmedic's configuration.

    Every field can be set by an environment variable ``MODELMEDIC_<FIELD>`` (upper case);
    ``tracking_uri`` also honours ``MLFLOW_TRACKING_URI`` and ``database_url`` honours
    ``DATABASE_URL`` (Heroku's name). See :attr:`resolved_tracking_uri` for where MLflow's
    runs, registry and (with a PostgreSQL store) model files are kept.
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
        description=(
            "MLflow tracking URI; default: the PostgreSQL DATABASE_URL when there is one, "
            "else sqlite database in the home folder."
        ),
    )
    tracking_timeout_seconds: int = Field(
        default=10,
        ge=1,
        description="Seconds an MLflow tracking server has to answer one request "
        "(MLFLOW_HTTP_REQUEST_TIMEOUT, when that is not set).",
    )
    tracking_max_retries: int = Field(
        default=2,
        ge=0,
        description="Retries of a failed request to an MLflow tracking server "
        "(MLFLOW_HTTP_REQUEST_MAX_RETRIES, when that is not set).",
    )
    tracking_backoff_seconds: int = Field(
        default=1,
        ge=0,
        description="Back-off factor between those retries: 0, then 2, 4… times it, in seconds "
        "(MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, when that is not set).",
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
    trust_pickle: bool = Field(
        default=False,
        description="Load models saved with pickle or cloudpickle, whose loader runs code from the file "
        "(only for models you trust); otherwise only skops models of trusted scikit-learn types load.",
    )
    model_refresh_seconds: float = Field(
        default=60,
        ge=0,
        description="How often each worker checks the registry alias it serves and swaps in a new "
        "version (0: never; a MODELMEDIC_MODEL_URI that is not an alias is never refreshed).",
    )
    reload_dir: Path | None = Field(
        default=None,
        description="Folder shared by the workers of one server to spread POST /admin/reload "
        "(the gunicorn configuration creates one).",
    )
    api_token: str | None = Field(default=None, description="Bearer token for /feedback, /admin.")
    max_batch: int = Field(default=1000, ge=1, description="Most instances per /predict call.")
    seed: int = Field(default=42, description="Random seed for training.")
    db_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Most seconds a prediction log write may take (PostgreSQL connect, statement and "
        "pool wait too); then /predict and /feedback answer 503 and nothing is stored.",
    )
    db_read_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Statement timeout of the service's reads of the log on PostgreSQL."
    )
    monitoring_token_required: bool = Field(
        default=False,
        description="Whether /monitoring/* and /dashboard/data.json need the API token (else anyone may read them).",
    )
    monitoring_cache_seconds: float = Field(
        default=30.0, ge=0, description="How long a /monitoring/* or dashboard live answer is reused (0: never)."
    )
    monitoring_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often the service measures the drift its gauges show."
    )
    monitoring_window_days: float = Field(
        default=7.0, gt=0, description="The window of the scheduled drift measurement: the last N days."
    )
    monitoring_max_distinct: int = Field(
        default=100_000,
        ge=100,
        description="Most distinct values per column read for live drift; beyond, a uniform sample of rows.",
    )
    label_max: float | None = Field(
        default=None,
        gt=0,
        description="Largest label /feedback accepts; default 100 x the reference maximum of the target.",
    )
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
        """The MLflow tracking URI to use, the first of:

        1. the configured one (``MODELMEDIC_TRACKING_URI`` or ``MLFLOW_TRACKING_URI``);
        2. the prediction log's database when it is PostgreSQL (``DATABASE_URL``, Heroku's
           ``postgres://`` form included): MLflow's tables live beside the log's, so every
           dyno and one-off job of an app shares one store;
        3. ``mlflow.db`` (sqlite) in the home folder.
        """
        if self.tracking_uri:
            return self.tracking_uri
        if self.database_url and is_postgres(self.database_url):
            return sqlalchemy_url(self.database_url)
        return f"sqlite:///{self.default_store.resolve()}"

    @property
    def uses_default_store(self) -> bool:
        """Whether MLflow's store is the home folder's sqlite file (nothing else configured)."""
        return not self.tracking_uri and not (self.database_url and is_postgres(self.database_url))

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
        # lazy: only when the cache folder is needed
        from platformdirs import user_cache_path

        return user_cache_path("modelmedic")

    def ensure_home(self) -> Path:
        """Create the home folder when work starts and return it."""
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (any spelling, any driver)."""
    return url.startswith(_POSTGRES_PREFIXES) or url.startswith("postgresql+")


def sqlalchemy_url(url: str) -> str:
    """``url`` with Heroku's ``postgres://`` (or a driverless ``postgresql://``) turned into
    ``postgresql+psycopg://``, the driver modelmedic installs; other URLs are returned as is.

    Example:
        >>> sqlalchemy_url("postgres://u:p@host:5432/db")
        'postgresql+psycopg://u:p@host:5432/db'
    """
    for prefix in _POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return POSTGRES_DRIVER_PREFIX + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings read from the environment (cached)."""
    return Settings()
