"""Realtime chat: one WebSocket per user, fanned out across worker processes.

The app's lifespan calls ``start_realtime(app)`` and ``stop_realtime(app)``; without them the
service starts with the first socket (and its listener thread ends with the process).
"""

from __future__ import annotations

from app.db import database
from app.realtime.log_redaction import install_token_redaction
from app.realtime.service import RealtimeService
from app.settings import get_settings


def realtime_service(app) -> RealtimeService:
    """The app's realtime service, built on first use from the app's settings and engine."""
    service = getattr(app.state, "realtime", None)
    if service is None:
        settings = getattr(app.state, "settings", None) or get_settings()
        service = app.state.realtime = RealtimeService(settings, database.engine)
    return service


async def start_realtime(app) -> None:
    """Start this worker's fan-out: the dispatcher and the bus listener (LISTEN on Postgres).

    Also keeps socket tokens (``/ws?token=…``) out of uvicorn's log.
    """
    install_token_redaction()
    await realtime_service(app).start()


async def stop_realtime(app) -> None:
    """Stop the listener and the dispatcher (sockets still open are closed by the server).

    The stopped service is discarded: its hub is bound to this event loop, so a later start of
    the same app (a second lifespan, as in tests) builds a fresh one.
    """
    service = getattr(app.state, "realtime", None)
    if service is not None:
        await service.stop()
        app.state.realtime = None
