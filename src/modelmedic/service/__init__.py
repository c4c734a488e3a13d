"""The prediction service: a FastAPI app that predicts, logs every prediction and label,
and watches its own traffic (``modelmedic serve``; the Procfile runs it under gunicorn).

Importing this package is cheap; :func:`create_app` is in :mod:`modelmedic.service.app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from modelmedic.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the prediction service (see :func:`modelmedic.service.app.create_app`)."""
    # lazy: modelmedic.service.app imports fastapi, starlette
    from modelmedic.service.app import create_app as build

    return build(settings)
