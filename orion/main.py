"""Builds the FastAPI app: the guard (orion/guard.py), routers, static UI, security headers, and the job
manager's lifecycle."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from orion import __version__
from orion.guard import Guard
from orion.launcher import Launcher, SparkSubmitLauncher
from orion.manager import JobManager
from orion.master import Master, SparkMaster
from orion.registry import Registry
from orion.routers import catalog, health, jobs
from orion.scrub import Scrubber
from orion.settings import OrionSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The UI loads only its own files and never evaluates strings: a script-injection backstop.
_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"


def create_app(
    settings: OrionSettings, *, launcher: Launcher | None = None, master: Master | None = None, monitor: bool = True
) -> FastAPI:
    """The app; tests pass a fake launcher/master and `monitor=False` to drive `manager.tick()` themselves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        registry = Registry(settings.data_dir / "orion.sqlite3")
        scrub = Scrubber.from_environ(os.environ, extra=[settings.token.get_secret_value()])
        the_master = master or SparkMaster(settings.spark_master_ui)
        manager = JobManager(settings, registry, launcher or SparkSubmitLauncher(settings, scrub), the_master, scrub)
        app.state.master, app.state.manager = the_master, manager
        manager.start(monitor=monitor)
        try:
            yield
        finally:
            manager.close()
            registry.close()

    app = FastAPI(
        title="Spark Orion",
        version=__version__,
        description="Submits PySpark jobs to the lakehouse's Spark cluster, supervises streaming jobs, "
        "shows their logs and progress. Authenticate with `Authorization: Bearer <ORION_TOKEN>`.",
        lifespan=lifespan,
        exception_handlers=jobs.ERROR_HANDLERS,
    )
    app.state.settings, app.state.health_lock, app.state.health_cache = settings, threading.Lock(), None

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.update({"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})
        if request.url.path == "/" or request.url.path.startswith("/static/"):
            response.headers.update({"Content-Security-Policy": _CSP, "X-Frame-Options": "DENY"})
        return response

    for module in (health, jobs, catalog):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:  # the web UI holds no data: it asks for the token, then calls the API with it
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Outermost (added last): auth, concurrency and body limits come before any route reads a byte.
    app.add_middleware(Guard, settings=settings)
    return app
