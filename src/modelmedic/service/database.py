"""Database URLs of the prediction log and the error it raises.

Heroku hands out ``postgres://`` URLs; SQLAlchemy wants a dialect and driver
(``postgresql+psycopg://``). Messages show URLs without their password.
"""

from __future__ import annotations

from pathlib import Path

from modelmedic.errors import ModelmedicError
from modelmedic.secrets import masked

__all__ = ["PredictionStoreError", "masked", "normalize_database_url"]


class PredictionStoreError(ModelmedicError):
    """The prediction log cannot be reached or refused a write."""


def normalize_database_url(url: str | None, home: Path) -> str:
    """Return the SQLAlchemy URL of the prediction log.

    ``None`` means SQLite at ``home/predictions.db``; ``postgres://`` and ``postgresql://``
    (Heroku's forms) become ``postgresql+psycopg://`` (psycopg 3 is the driver installed).
    """
    if not url:
        return f"sqlite:///{(Path(home) / 'predictions.db').resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
