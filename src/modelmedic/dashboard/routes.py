"""The dashboard's HTTP routes: the page, its data, its static files, the evidently reports.

- ``GET /``: the page (one HTML file, its script and style sheet, no external resource);
- ``GET /dashboard/data.json``: :func:`~modelmedic.dashboard.payload.dashboard_data`, with
  the live traffic and the served model when the host app passes them (the prediction
  service does: :mod:`modelmedic.service.live_traffic`);
- ``GET /static/plotly.min.js``: plotly.js shipped in this package (the MIT-licensed
  cartesian partial bundle from npm, which draws every trace the page uses: scatter, bar,
  heatmap); users run this offline and behind firewalls: no CDN, and the web dyno does not
  need plotly's Python package;
- ``GET /dashboard/static/{name}``: the page's script and style sheet;
- ``GET /dashboard/reports/{folder}/{name}``: a monitor job's per-window evidently report.

Mount it with ``app.include_router(dashboard_router(settings, live=..., served=..., access=...))``
(the prediction service's app does; the dashboard imports nothing of the service);
``modelmedic dashboard`` serves it alone with :func:`create_dashboard_app`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from modelmedic import __version__
from modelmedic.config import Settings, get_settings
from modelmedic.dashboard.payload import dashboard_data, report_path

logger = logging.getLogger("modelmedic.dashboard")
STATIC = Path(__file__).parent / "static"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
NO_STORE = {"Cache-Control": "no-store"}


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` shipped with modelmedic (``plotly.LICENSE.txt`` beside it)."""
    return STATIC / "plotly.min.js"


Section = Callable[[], dict[str, Any] | None]


def _live(live: Section | None) -> dict[str, Any] | None:
    """The live-traffic section from the host app, ``None`` without one, an error if it fails."""
    if live is None:
        return None
    try:
        return live()
    except Exception as exc:  # the page still shows the offline results
        logger.warning("live traffic is unavailable on the dashboard: %s", exc)
        return {"error": f"the prediction log cannot be read: {exc}"}


def dashboard_router(
    settings: Settings | None = None,
    mlflow_ui: str | None = None,
    *,
    live: Section | None = None,
    served: Section | None = None,
    access: Callable[..., Any] | None = None,
) -> APIRouter:
    """The dashboard's routes on the results named by ``settings``.

    Args:
        settings: Names the reports folder and the MLflow store (default: the environment's).
        mlflow_ui: MLflow UI base address for run links (default: ``settings.mlflow_ui_url``).
        live: Returns the live-traffic section (``None`` without a prediction log); run off
            the event loop, its failure shown on the page as an ``error``.
        served: Returns ``uri``, ``version`` and ``loaded_at`` of the served model, if any.
        access: A FastAPI dependency guarding ``/dashboard/data.json`` (the service's
            monitoring guard); none: open, as ``modelmedic dashboard`` serves it.

    Returns:
        An ``APIRouter`` to include at the root of an app.
    """
    settings = settings or get_settings()
    router = APIRouter(tags=["dashboard"])

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> FileResponse:
        """The dashboard page."""
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=NO_STORE)

    @router.get("/dashboard/data.json", dependencies=[Depends(access)] if access else [])
    async def data() -> JSONResponse:
        """Everything the page shows: model card, monitoring, backtest, retrains, live traffic."""
        section = await run_in_threadpool(_live, live)
        model = served() if served is not None else None
        body = await run_in_threadpool(dashboard_data, settings, mlflow_ui=mlflow_ui, live=section, served=model)
        return JSONResponse(body, headers=NO_STORE)

    @router.get("/static/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> FileResponse:
        """plotly.js, from modelmedic's own files."""
        return FileResponse(plotly_js_path(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip

    @router.get("/dashboard/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        """The page's script and style sheet."""
        if name not in ASSETS:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dashboard file '{name}'")
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=NO_STORE)

    @router.get("/dashboard/reports/{folder}/{name}", response_class=HTMLResponse, include_in_schema=False)
    async def report(folder: str, name: str) -> FileResponse:
        """A window's evidently HTML report from monitor job ``folder``."""
        path = report_path(settings, folder, name)
        if path is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no report {name} in monitor job {folder}: 'modelmedic monitor --html all' writes every window's",
            )
        return FileResponse(path, media_type="text/html")

    return router


def create_dashboard_app(settings: Settings | None = None, mlflow_ui: str | None = None) -> FastAPI:
    """A small app serving only the dashboard, from local results (``modelmedic dashboard``).

    Returns:
        A FastAPI app without the prediction API.
    """
    app = FastAPI(title="modelmedic dashboard", version=__version__, docs_url=None, redoc_url=None)
    app.include_router(dashboard_router(settings, mlflow_ui))
    return app
