"""The maintenance freeze: a flag in the database (row id=1) that every worker process reads.

``set_maintenance``/``read_maintenance`` are what the ``freeze``/``unfreeze`` tasks call.
``MaintenanceGate`` is the ASGI middleware: while frozen, writes answer 503 and every response
carries ``X-Maintenance`` (paths answered without the database, ``/healthz``, carry the flag as
last read, and no banner once a read failed). ``current_status(app)`` is the cached read for
other code (WebSocket).

Nothing writes a row while frozen. Sign-in keeps working without writing: the two routes in
``ANSWERED_WITHOUT_WRITING`` pass the gate and see the flag as ``request.state.maintenance``
(see ``app.routes.auth``); anything else that would write answers 503 with Retry-After.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

import anyio
from fastapi import HTTPException
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import database
from app.errors import DATABASE_UNAVAILABLE_ERRORS, database_unavailable_response
from app.models import MaintenanceState, utcnow

logger = logging.getLogger("app.maintenance")

STATE_ROW_ID = 1
RETRY_AFTER_SECONDS = 60
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that write nothing while frozen (the route reads the flag the gate saw); not logout:
# revoking a session is a write, so it answers 503 like every other write.
ANSWERED_WITHOUT_WRITING = frozenset({"/auth/login", "/auth/refresh"})
PATHS_WITHOUT_DATABASE = frozenset({"/healthz"})
HEADER = b"x-maintenance"


@dataclass(frozen=True)
class MaintenanceStatus:
    enabled: bool
    message: str | None = None


NOT_FROZEN = MaintenanceStatus(enabled=False)


def read_maintenance(engine: Engine) -> MaintenanceStatus:
    """The flag as stored; a missing row (or table) means not frozen."""
    with Session(engine) as session:
        row = session.scalars(select(MaintenanceState).where(
            MaintenanceState.id == STATE_ROW_ID)).first()
    if row is None:
        return NOT_FROZEN
    return MaintenanceStatus(enabled=bool(row.enabled), message=row.message)


def set_maintenance(engine: Engine, enabled: bool, message: str | None = None) -> MaintenanceStatus:
    """Turn the freeze on or off for every worker using this database; returns the new state."""
    with Session(engine) as session, session.begin():
        row = session.get(MaintenanceState, STATE_ROW_ID, with_for_update=True)
        if row is None:
            row = MaintenanceState(id=STATE_ROW_ID)
            session.add(row)
        row.enabled = enabled
        row.message = message
        row.updated_at = utcnow()
    return MaintenanceStatus(enabled=enabled, message=message)


class MaintenanceCache:
    """The flag as this process last read it, re-read at most every ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._status = NOT_FROZEN
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def peek(self) -> MaintenanceStatus:
        """The last state read, without touching the database; NOT_FROZEN when none is known
        (never read, or the last read failed: a failed read is not the flag, and a banner
        from before it would be a guess)."""
        return self._status

    def is_stale(self) -> bool:
        return self._read_at is None or time.monotonic() - self._read_at >= self.ttl

    def get(self, engine: Engine) -> MaintenanceStatus:
        """The state, re-read when stale.

        A database that does not answer raises (DATABASE_UNAVAILABLE_ERRORS): a failed read is
        not the flag, so callers answer "database unavailable", whatever was last seen, and the
        next call reads again.
        """
        if not self.is_stale():
            return self._status
        with self._lock:
            if self.is_stale():
                try:
                    self._status = read_maintenance(engine)
                except DATABASE_UNAVAILABLE_ERRORS:
                    self._status, self._read_at = NOT_FROZEN, None  # unknown until read again
                    raise
                except Exception as exc:  # e.g. the table does not exist yet
                    logger.warning("maintenance flag not readable (%s); treating as not frozen",
                                   type(exc).__name__)
                    self._status = NOT_FROZEN
                self._read_at = time.monotonic()
        return self._status


def maintenance_detail(status: MaintenanceStatus) -> str:
    """The text of every "refused: frozen" answer (HTTP 503 body, socket error frame)."""
    return f"maintenance: {status.message or 'writes are paused'}"


def refused_while_frozen(status: MaintenanceStatus) -> HTTPException:
    """What a route raises when answering would need a write while frozen: 503, Retry-After."""
    return HTTPException(503, detail=maintenance_detail(status),
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def current_status(app) -> MaintenanceStatus:
    """The cached flag of a running app (blocking when stale: call it from a worker thread).

    Raises DATABASE_UNAVAILABLE_ERRORS when it must be read and cannot (see MaintenanceCache).
    """
    return app.state.maintenance.get(database.engine)


def header_value(status: MaintenanceStatus) -> bytes:
    """``X-Maintenance`` as a safe header: ASCII, no line breaks (non-ASCII percent-encoded)."""
    text = (status.message or "maintenance").replace("\r", " ").replace("\n", " ")
    return quote(text, safe=" !#$&'()*+,/:;=?@[]~-._").encode("ascii")


class MaintenanceGate:
    """ASGI middleware: 503 for writes while frozen, and the banner header on every response."""

    def __init__(self, app: ASGIApp, cache: MaintenanceCache) -> None:
        self.app = app
        self.cache = cache

    async def _status_for(self, path: str) -> MaintenanceStatus:
        if path in PATHS_WITHOUT_DATABASE or not self.cache.is_stale():
            return self.cache.peek()
        return await anyio.to_thread.run_sync(self.cache.get, database.engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            status = await self._status_for(scope["path"])
        except DATABASE_UNAVAILABLE_ERRORS as exc:
            logger.warning("maintenance flag not readable for %s %s: database unavailable (%s)",
                           scope["method"], scope["path"], type(exc).__name__)
            await database_unavailable_response()(scope, receive, send)
            return
        scope.setdefault("state", {})["maintenance"] = status  # request.state.maintenance
        if not status.enabled:
            await self.app(scope, receive, send)
            return
        banner = header_value(status)
        if scope["method"] in WRITE_METHODS and scope["path"] not in ANSWERED_WITHOUT_WRITING:
            await self._refuse(send, status, banner)
            return

        async def send_with_banner(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER, banner)]
            await send(message)

        await self.app(scope, receive, send_with_banner)

    @staticmethod
    async def _refuse(send: Send, status: MaintenanceStatus, banner: bytes) -> None:
        body = json.dumps({"detail": maintenance_detail(status)}).encode()
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            (HEADER, banner),
        ]})
        await send({"type": "http.response.body", "body": body})
