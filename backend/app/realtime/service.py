"""The realtime service of one worker: bus, hub, token cache, and the database work they need.

Every database call runs in a worker thread (``run_in_threadpool``); database errors propagate
to the caller, which decides what the client sees (close 1011, or an error frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.realtime import store
from app.realtime.bus import Bus
from app.realtime.bus_selection import bus_for
from app.realtime.connection import Connection, Opening
from app.realtime.events import BusEvent
from app.realtime.hub import Hub
from app.realtime.protocol import MessageOut
from app.realtime.token_cache import TokenCache
from app.security import InvalidToken, access_token_expiry, decode_access_token
from app.settings import Settings

logger = logging.getLogger(__name__)


class RealtimeService:
    """Built once per app; ``start()`` in the app's event loop, ``stop()`` at shutdown."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.bus: Bus = bus_for(engine)
        self.tokens = TokenCache(
            ttl_seconds=settings.ws_token_cache_seconds,
            decode=lambda token: decode_access_token(token, settings),
            expiry=access_token_expiry, load=self._lookup_announcing,
        )
        self.hub = Hub(self.bus, load_messages=self.load_messages, load_after=self.load_after,
                       renew=self._renew_announcing, expires_at=self.tokens.expires_at)
        self._dispatcher: asyncio.Task | None = None
        self._renewals: set[asyncio.Task] = set()

    @property
    def started(self) -> bool:
        return self._dispatcher is not None

    async def start(self) -> None:
        if self.started:
            return
        self._dispatcher = asyncio.create_task(self.hub.run(), name="chat-dispatcher")
        await self.bus.start(self._on_event)

    async def stop(self) -> None:
        if self._dispatcher is None:
            return
        await self.bus.stop()
        for task in list(self._renewals):
            task.cancel()
        self._dispatcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._dispatcher
        self._dispatcher = None

    def _on_event(self, bus_event: BusEvent) -> None:
        if bus_event.kind == "thread":
            for user_id in bus_event.user_ids:
                self.tokens.forget_user(user_id)
        self.hub.receive(bus_event)

    # -- database work (each call: one session, one thread) --------------------------------
    def _in_session(self, work, *args, **kwargs):
        with self._sessions() as session:
            return work(session, *args, **kwargs)

    async def load_threads_of(self, user_id: int) -> frozenset[int] | None:
        return await run_in_threadpool(self._in_session, self._identity, user_id, None)

    async def _lookup_announcing(self, user_id: int,
                                 opening: Opening | None) -> frozenset[int] | None:
        """The token cache's lookup: one statement, carrying the announcement of ``opening``
        when the hub wants one (see ``announcer``)."""
        announcement = None if opening is None else self.hub.announcement(user_id, opening)
        thread_ids = await run_in_threadpool(self._in_session, self._identity, user_id,
                                             announcement)
        if announcement is not None and thread_ids is not None:
            self.hub.announced(user_id, opening)
        return thread_ids

    def _identity(self, session: Session, user_id: int,
                  announcement: BusEvent | None) -> frozenset[int] | None:
        also = None if announcement is None else self.bus.notify_column(announcement)
        thread_ids = store.load_identity(session, user_id=user_id, also=also)
        if announcement is not None:
            if also is None and thread_ids is not None:
                self.bus.publish_in(session, announcement)
            session.commit()
        return thread_ids

    def _renew_announcing(self, conn: Connection) -> None:
        """The hub's deferred announcement: renew the token's entry with a lookup carrying it."""
        task = asyncio.get_running_loop().create_task(self._renew(conn))
        self._renewals.add(task)
        task.add_done_callback(self._renewals.discard)

    async def _renew(self, conn: Connection) -> None:
        try:
            await self.tokens.renew(conn.token, conn.opening)
        except InvalidToken:
            pass  # expired or its user is gone: announced alone below
        except SQLAlchemyError as exc:
            logger.warning("chat: announcing a socket of user %d failed: %s", conn.user_id,
                           type(exc).__name__)
            return
        self.hub.announce_alone(conn)

    async def load_messages(self, message_ids: Iterable[int]) -> dict[int, MessageOut]:
        return await run_in_threadpool(self._in_session, _messages, list(message_ids))

    async def load_after(self, thread_ids: Iterable[int], after_id: int,
                         limit: int) -> list[MessageOut]:
        return await run_in_threadpool(self._in_session, _messages_after, list(thread_ids),
                                       after_id, limit)

    async def save_message(self, *, thread_id: int, sender_id: int, body: str,
                           reply_to_id: int | None, client_ref: str | None) -> None:
        """Insert and commit; the bus delivers it (also back to the sender) after the commit."""
        await run_in_threadpool(self._in_session, self._save_message, thread_id, sender_id,
                                body, reply_to_id, client_ref)

    def _save_message(self, session: Session, thread_id: int, sender_id: int, body: str,
                      reply_to_id: int | None, client_ref: str | None) -> None:
        message = store.insert_message(session, thread_id=thread_id, sender_id=sender_id,
                                       body=body, reply_to_id=reply_to_id)
        self.bus.publish_in(session, BusEvent(kind="message", thread_id=thread_id,
                                              user_id=sender_id, message_id=message.id,
                                              client_ref=client_ref))
        session.commit()

    async def save_read(self, *, thread_id: int, user_id: int, message_id: int) -> None:
        """Move the read marker and tell the thread's other members."""
        await run_in_threadpool(self._in_session, self._save_read, thread_id, user_id,
                                message_id)

    def _save_read(self, session: Session, thread_id: int, user_id: int,
                   message_id: int) -> None:
        store.mark_read(session, thread_id=thread_id, user_id=user_id, message_id=message_id)
        self.bus.publish_in(session, BusEvent(kind="read", thread_id=thread_id, user_id=user_id,
                                              message_id=message_id))
        session.commit()


def _messages(session: Session, message_ids: list[int]) -> dict[int, MessageOut]:
    rows = store.load_messages(session, message_ids)
    return {message_id: MessageOut.model_validate(row) for message_id, row in rows.items()}


def _messages_after(session: Session, thread_ids: list[int], after_id: int,
                    limit: int) -> list[MessageOut]:
    rows = store.messages_after(session, thread_ids=thread_ids, after_id=after_id, limit=limit)
    return [MessageOut.model_validate(row) for row in rows]
