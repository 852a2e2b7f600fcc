"""What the server does with each client frame.

Frames the client got wrong raise ``FrameError`` (an error frame; the socket stays open).
Database errors propagate: the socket loop closes with 1011.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from app.maintenance import current_status, maintenance_detail
from app.realtime.connection import Connection
from app.realtime.events import BusEvent
from app.realtime.protocol import (
    ClientFrame,
    FrameError,
    ReadFrame,
    SendFrame,
    SubscribeFrame,
    TypingFrame,
    error_frame,
    ready_frame,
)
from app.realtime.service import RealtimeService
from app.realtime.store import ChatRuleBroken

MAINTENANCE_STATUS = 503


def _require_member(conn: Connection, thread_id: int) -> None:
    if thread_id not in conn.thread_ids:
        raise FrameError(f"you are not a member of thread {thread_id}")


async def _frozen(conn: Connection, frame: SendFrame | ReadFrame) -> bool:
    """True (and an error frame sent) while maintenance freezes writes."""
    status = await run_in_threadpool(current_status, conn.websocket.app)
    if not status.enabled:
        return False
    conn.push(error_frame(maintenance_detail(status), status=MAINTENANCE_STATUS,
                          client_ref=getattr(frame, "client_ref", None)))
    return True


async def _write(conn: Connection, frame: SendFrame | ReadFrame,
                 save: Callable[[], Awaitable[None]]) -> None:
    """The common path of frames that write: membership, the freeze, then the save."""
    _require_member(conn, frame.thread_id)
    if await _frozen(conn, frame):
        return
    try:
        await save()
    except ChatRuleBroken as exc:
        raise FrameError(str(exc)) from None


async def _send(service: RealtimeService, conn: Connection, frame: SendFrame) -> None:
    await _write(conn, frame, lambda: service.save_message(
        thread_id=frame.thread_id, sender_id=conn.user_id, body=frame.body,
        reply_to_id=frame.reply_to_id, client_ref=frame.client_ref))


async def _typing(service: RealtimeService, conn: Connection, frame: TypingFrame) -> None:
    _require_member(conn, frame.thread_id)
    service.bus.publish_now(BusEvent(kind="typing", thread_id=frame.thread_id,
                                     user_id=conn.user_id))


async def _read(service: RealtimeService, conn: Connection, frame: ReadFrame) -> None:
    await _write(conn, frame, lambda: service.save_read(
        thread_id=frame.thread_id, user_id=conn.user_id, message_id=frame.message_id))


async def _subscribe(service: RealtimeService, conn: Connection, _frame: SubscribeFrame) -> None:
    thread_ids = await service.load_threads_of(conn.user_id) or frozenset()
    service.hub.set_threads(conn, thread_ids)
    service.tokens.forget_user(conn.user_id)
    conn.push(ready_frame(conn.user_id, thread_ids))


_HANDLERS = {SendFrame: _send, TypingFrame: _typing, ReadFrame: _read,
             SubscribeFrame: _subscribe}


async def handle_frame(service: RealtimeService, conn: Connection, frame: ClientFrame) -> None:
    """Act on one validated client frame."""
    await _HANDLERS[type(frame)](service, conn, frame)
