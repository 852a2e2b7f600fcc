"""How failures become HTTP answers: database outages (503), validation (422), conflicts (409)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from foundation.database_urls import redact_text

logger = logging.getLogger("app.errors")

DB_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError,
                               DisconnectionError)


def database_unavailable_response() -> JSONResponse:
    """The answer for any request that needed the database while it was unreachable."""
    return JSONResponse({"detail": "database unavailable"}, status_code=503,
                        headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    logger.warning("database unavailable during %s %s: %s", request.method, request.url.path,
                   redact_text(first_line))
    return database_unavailable_response()


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    logger.info("integrity error on %s %s: %s", request.method, request.url.path,
                redact_text(str(getattr(exc, "orig", exc)).strip().splitlines()[0]))
    return JSONResponse({"detail": "conflicts with existing data"}, status_code=409)


def _describe_location(location: tuple) -> str:
    return ".".join(str(part) for part in location) or "request"


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(item.get("loc", ())), "msg": item.get("msg", ""),
               "type": item.get("type", "")} for item in exc.errors()]
    readable = "; ".join(f"{_describe_location(tuple(e['loc']))}: {e['msg']}" for e in errors)
    return JSONResponse({"detail": readable or "invalid request", "errors": errors},
                        status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that keep outages and bad input from ever becoming a 500."""
    for error_type in DATABASE_UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_type, _database_unavailable)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
