"""Liveness (process up) and readiness (database answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import database
from app.errors import DATABASE_UNAVAILABLE_ERRORS, DB_RETRY_AFTER_SECONDS
from app.payloads import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (does not touch the database)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health,
            responses={503: {"description": "the database does not answer"}})
def readyz():
    """Ready when the database answers ``SELECT 1``; 503 with Retry-After otherwise."""
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DATABASE_UNAVAILABLE_ERRORS as exc:
        return JSONResponse(
            {"status": "unavailable", "detail": f"database unavailable ({type(exc).__name__})"},
            status_code=503, headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})
    return Health(status="ready")
