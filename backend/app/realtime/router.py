"""``/ws``: the chat socket. Authenticate, register, then handle client frames until closed.

Close codes: 4401 bad or expired token (at the handshake); 4000 replaced by a newer socket of the
same user; 1011 the database failed (handshake or a frame) — reconnect when it is back; 1013 the
client reads too slowly. Any other failure is logged and closes with 1011 "internal error".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.realtime import realtime_service
from app.realtime.connection import (
    CLOSE_BAD_TOKEN,
    CLOSE_SERVER_ERROR,
    Connection,
    Opening,
)
from app.realtime.handlers import handle_frame
from app.realtime.protocol import FrameError, error_frame, parse_client_frame
from app.realtime.service import RealtimeService
from app.realtime.token_cache import Identity
from app.security import InvalidToken

logger = logging.getLogger(__name__)
router = APIRouter(tags=["realtime"])

DATABASE_FAILED = "database unavailable"
INTERNAL_ERROR = "internal error"
WRITER_DRAIN_S = 5.0


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket, token: str = "") -> None:
    """One user's chat socket (``?token=`` an access token); frames as in app.realtime.protocol."""
    service = realtime_service(websocket.app)
    await service.start()
    await websocket.accept()
    opening = Opening()  # its announcement can ride on the token's lookup
    identity = await _authenticate(service, websocket, token, opening)
    if identity is None:
        return
    conn = service.hub.connect(websocket, identity, opening=opening, token=token)
    writer = asyncio.create_task(conn.write_frames(), name=f"ws-writer-{identity.user_id}")
    try:
        await _serve(service, conn)
    finally:
        service.hub.disconnect(conn)
        conn.close(1000, "")
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(writer, WRITER_DRAIN_S)


async def _authenticate(service: RealtimeService, websocket: WebSocket, token: str,
                        opening: Opening) -> Identity | None:
    try:
        return await service.tokens.resolve(token, opening)
    except InvalidToken:
        await websocket.close(code=CLOSE_BAD_TOKEN, reason="invalid or expired token")
    except SQLAlchemyError as exc:
        logger.warning("chat handshake: %s: %s", DATABASE_FAILED, type(exc).__name__)
        await websocket.close(code=CLOSE_SERVER_ERROR, reason=DATABASE_FAILED)
    except Exception:  # noqa: BLE001 - a close with a reason, never a dropped connection
        logger.exception("chat handshake: unexpected error")
        await websocket.close(code=CLOSE_SERVER_ERROR, reason=INTERNAL_ERROR)
    return None


async def _serve(service: RealtimeService, conn: Connection) -> None:
    while not conn.closing:
        message = await conn.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            await handle_frame(service, conn, parse_client_frame(message.get("text")))
        except FrameError as exc:
            conn.push(error_frame(str(exc)))
        except IntegrityError:
            conn.push(error_frame("conflicts with existing data (was the thread deleted?)"))
        except SQLAlchemyError as exc:
            logger.warning("chat socket of user %d: %s: %s", conn.user_id, DATABASE_FAILED,
                           type(exc).__name__)
            conn.close(CLOSE_SERVER_ERROR, DATABASE_FAILED)
        except Exception:  # noqa: BLE001 - never end the socket on a surprise without a close
            logger.exception("chat socket of user %d: unexpected error on a frame", conn.user_id)
            conn.close(CLOSE_SERVER_ERROR, INTERNAL_ERROR)
