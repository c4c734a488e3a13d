"""Database URLs of the prediction log and the error it raises.

Heroku hands out ``postgres://`` URLs; SQLAlchemy wants a dialect and driver
(``postgresql+psycopg://``). Messages show URLs without their password.
"""

from __future__ import annotations

from pathlib import Path

from modelmedic.config import sqlalchemy_url
from modelmedic.errors import ModelmedicError


class PredictionStoreError(ModelmedicError):
    """The prediction log cannot be reached or refused a write."""


def normalize_database_url(url: str | None, home: Path) -> str:
    """Return the SQLAlchemy URL of the prediction log.

    ``None`` means SQLite at ``home/predictions.db``; ``postgres://`` and ``postgresql://``
    (Heroku's forms) become ``postgresql+psycopg://`` (psycopg 3 is the driver installed).
    """
    if not url:
        return f"sqlite:///{(Path(home) / 'predictions.db').resolve()}"
    return sqlalchemy_url(url)


def masked(url: str) -> str:
    """``url`` with its password hidden, safe for messages and logs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"
