"""The booking API application: ``uvicorn app.main:app``.

``create_app(settings)`` builds an app around one settings object (tests pass their own);
the module-level ``app`` is built from the environment and exits with a one-line message
naming the variable when a setting is invalid.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from starlette.concurrency import run_in_threadpool

from app.db import database
from app.errors import DATABASE_UNAVAILABLE_ERRORS, install_error_handlers
from app.json_depth import JsonDepthGuard
from app.maintenance import MaintenanceCache, MaintenanceGate
from app.realtime import start_realtime, stop_realtime
from app.realtime.router import router as realtime_router
from app.routes import auth, bookings, health, rooms, status, uploads
from app.routes.threads import router as threads_router
from app.settings import Settings, SettingsError, get_settings
from foundation.database_urls import redact_text, redact_url
from foundation.polling import poll_until

logger = logging.getLogger("app.main")

DB_WAIT_SECONDS = 30.0  # how long start-up retries SELECT 1 before starting degraded
DB_RETRY_FIRST_DELAY = 0.25
DB_RETRY_MAX_DELAY = 4.0


def wait_for_database(engine: Engine, *, timeout: float) -> bool:
    """Retry ``SELECT 1`` with growing pauses until it answers or ``timeout`` passes.

    Returns whether the database answered; every attempt is logged with the URL redacted.
    """
    target = redact_url(engine.url.render_as_string(hide_password=True))
    attempts = 0

    def select_1() -> None:
        nonlocal attempts
        attempts += 1
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def log_retry(state) -> None:
        exc = state.outcome.exception()
        logger.warning("database %s not ready (attempt %d: %s); retrying in %.2f s",
                       target, state.attempt_number, _first_line(exc), state.upcoming_sleep)

    try:
        poll_until(select_1, timeout=timeout, interval=DB_RETRY_FIRST_DELAY,
                   max_interval=DB_RETRY_MAX_DELAY, retry_on=DATABASE_UNAVAILABLE_ERRORS,
                   before_sleep=log_retry)
    except DATABASE_UNAVAILABLE_ERRORS as exc:
        logger.error("database %s did not answer SELECT 1 after %d attempts (%s); starting "
                     "anyway, /readyz answers 503 until it does", target, attempts,
                     _first_line(exc))
        return False
    logger.info("database %s answered SELECT 1 (attempt %d)", target, attempts)
    return True


def _first_line(exc: BaseException | None) -> str:
    message = str(exc).strip() if exc else ""
    return redact_text(message.splitlines()[0] if message else "")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Wait (bounded) for the database before serving; dispose of the pool on shutdown."""
    await run_in_threadpool(wait_for_database, database.engine,
                            timeout=app.state.db_wait_seconds)
    await start_realtime(app)  # realtime: chat fan-out (dispatcher + LISTEN connection)
    yield
    await stop_realtime(app)  # realtime
    database.reset()


def _configure_logging() -> None:
    app_logger = logging.getLogger("app")
    if not app_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        app_logger.addHandler(handler)
        app_logger.setLevel(logging.INFO)


def _check_engine(settings: Settings) -> None:
    """Build the engine now, so a URL naming an unknown driver fails start-up clearly."""
    try:
        database.configure(settings)
        database.engine  # noqa: B018 - builds it
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise SettingsError(f"invalid setting: SQLALCHEMY_DATABASE_URL: "
                            f"{redact_text(str(exc))}") from None


def create_app(settings: Settings | None = None, *,
               db_wait_seconds: float = DB_WAIT_SECONDS) -> FastAPI:
    """The API around these settings (default: the environment's); raises SettingsError."""
    settings = settings or get_settings()
    _configure_logging()
    _check_engine(settings)
    app = FastAPI(title="Booking API", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.db_wait_seconds = db_wait_seconds
    app.state.maintenance = MaintenanceCache(ttl=settings.maintenance_cache_seconds)
    app.add_middleware(JsonDepthGuard)
    app.add_middleware(MaintenanceGate, cache=app.state.maintenance)  # outermost
    install_error_handlers(app)
    for router in (health.router, status.router, auth.router, rooms.router, bookings.router,
                   uploads.router, threads_router, realtime_router):
        app.include_router(router)
    return app


def _app_from_environment() -> FastAPI:
    try:
        return create_app()
    except SettingsError as exc:
        raise SystemExit(f"booking API cannot start: {exc}") from None


app = _app_from_environment()
