"""Throwaway PostgreSQL databases on the local server, for tests and benchmarks.

The server at ``MODELMEDIC_TEST_POSTGRES`` (default ``127.0.0.1:5432``, trust auth for
``postgres`` or ``root``) gets one uniquely named database per use, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_HOST = "127.0.0.1:5432"
PG_ROLES = ("postgres", "root")


def admin_url() -> str | None:
    """A SQLAlchemy URL of the ``test`` database a trusted role can enter, or ``None``."""
    from sqlalchemy import create_engine

    configured = os.environ.get("MODELMEDIC_TEST_POSTGRES")
    candidates = [configured] if configured else [f"postgresql+psycopg://{r}@{PG_HOST}/test" for r in PG_ROLES]
    for url in candidates:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return url
        except Exception:
            continue
        finally:
            engine.dispose()
    return None


@contextmanager
def fresh_database(prefix: str = "modelmedic_test") -> Iterator[str]:
    """Create an empty database and yield its URL in Heroku's form (``postgres://...``).

    Raises:
        LookupError: when no PostgreSQL server lets a trusted role in.
    """
    from sqlalchemy import create_engine

    admin = admin_url()
    if admin is None:
        raise LookupError(f"no PostgreSQL with trust auth for {', '.join(PG_ROLES)} at {PG_HOST}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield "postgres://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
