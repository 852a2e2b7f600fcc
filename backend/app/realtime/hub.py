"""This worker's sockets and the dispatcher that turns bus events into frames for them.

One socket per user: a newer socket of the same user replaces the older one (close code 4000
"replaced"), on this worker at once and on other workers through the bus: a socket announces
its opening time (``session`` event) and every worker closes its socket of that user if it was
opened earlier — so exactly the newest survives, whatever order the announcements arrive in
(workers share the host clock, or NTP-synchronised ones).

When to announce is ``announcer.Announcer``'s job (only when another socket of the user may
exist elsewhere; the announcement rides on the handshake's identity lookup, or on the lookup
that renews the token's cache entry). When an announcement of an older socket arrives while this
worker's newer socket of that user was not announced, that renewal announces it, so the older
one still closes. A socket's opening time is fixed before its lookup, so an announcement of a
newer socket may arrive before it is registered: the newest heard of each user is remembered and
a socket older than it closes as replaced right after its ``ready`` frame.

Bus events are handled in arrival order by one dispatcher task; the messages a batch needs are
loaded in one query, and only for threads that have a member connected here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket

from app.realtime.announcer import USERS_KEPT, Announcer
from app.realtime.bus import Bus
from app.realtime.connection import CLOSE_REPLACED, CLOSE_SERVER_ERROR, Connection, Opening
from app.realtime.events import BusEvent
from app.realtime.protocol import (
    MessageOut,
    message_frame,
    read_frame,
    ready_frame,
    typing_frame,
)
from app.realtime.token_cache import Identity

logger = logging.getLogger(__name__)

RECENT_IDS_KEPT = 10_000
RESYNC_LIMIT = 1000
_NEVER = (0.0, "")  # the age key older than every socket
LoadMessages = Callable[[Iterable[int]], Awaitable[dict[int, MessageOut]]]
LoadAfter = Callable[[Iterable[int], int, int], Awaitable[list[MessageOut]]]


class RecentMessages:
    """The last N messages delivered by this worker (so a catch-up never repeats one).

    A message is known by its id *and* its creation time: SQLite hands a deleted row's id to
    the next row (no AUTOINCREMENT), so an id alone would swallow a new message whose id a
    deleted one had (the smoke test deletes what it sent).
    """

    def __init__(self, limit: int = RECENT_IDS_KEPT) -> None:
        self._order: deque[tuple] = deque()
        self._keys: set[tuple] = set()
        self._limit = limit

    def add(self, message: MessageOut) -> bool:
        """Record a message; False when it was already delivered."""
        key = (message.id, message.created_at)
        if key in self._keys:
            return False
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self._limit:
            self._keys.discard(self._order.popleft())
        return True


class Hub:
    """Local sockets by user and by thread, and the bus-event dispatcher."""

    def __init__(self, bus: Bus, *, load_messages: LoadMessages, load_after: LoadAfter,
                 renew: Callable[[Connection], None],
                 expires_at: Callable[[str], float | None]) -> None:
        self._bus = bus
        self._load_messages = load_messages
        self._load_after = load_after
        self._by_user: dict[int, Connection] = {}
        self._by_thread: dict[int, set[int]] = {}
        self._delivered = RecentMessages()
        self._events: asyncio.Queue[BusEvent] = asyncio.Queue()
        self.origin = uuid.uuid4().hex  # this worker, in the events it publishes
        self._announcer = Announcer(renew, self._by_user.get, expires_at)
        self._newest_elsewhere: dict[int, tuple[float, str]] = {}  # age key, by user

    # -- sockets --------------------------------------------------------------------------
    def connect(self, websocket: WebSocket, identity: Identity, *, opening: Opening,
                token: str) -> Connection:
        """Register a socket and send its ``ready`` frame; the user's older socket here closes
        (or this one, when a newer socket of the user is known)."""
        user_id = identity.user_id
        conn = Connection(websocket, user_id, identity.thread_ids, opening=opening, token=token)
        old = self._by_user.get(user_id)
        newest_known = max(self._newest_elsewhere.get(user_id, _NEVER),
                           old.age_key if old is not None else _NEVER)
        conn.push(ready_frame(conn.user_id, conn.thread_ids))
        if newest_known > conn.age_key:
            conn.close(CLOSE_REPLACED, "replaced")  # lost the race to a newer socket
            return conn
        self._replace(old)
        self._by_user[user_id] = conn
        self._index(conn, conn.thread_ids)
        self._announcer.opened(conn)
        return conn

    def announcement(self, user_id: int, opening: Opening) -> BusEvent | None:
        """The ``session`` event the lookup for a new socket should carry; None: none needed."""
        if not self._announcer.wanted(user_id):
            return None
        return BusEvent(kind="session", user_id=user_id, conn_id=opening.conn_id,
                        opened_at=opening.opened_at, origin=self.origin)

    def announced(self, user_id: int, opening: Opening) -> None:
        """A lookup carried ``announcement(user_id, opening)`` and committed."""
        opening.announced = True
        self._announcer.sent(user_id)

    def announce_alone(self, conn: Connection) -> None:
        """Announce ``conn`` in a statement of its own, if still needed (its token can no longer
        be looked up, so no lookup can carry it)."""
        announcement = self.announcement(conn.user_id, conn.opening)
        if announcement is not None and not conn.announced and not conn.closing:
            self._bus.publish_now(announcement)
            self.announced(conn.user_id, conn.opening)

    def disconnect(self, conn: Connection) -> None:
        if self._by_user.get(conn.user_id) is conn:
            del self._by_user[conn.user_id]
            self._unindex(conn)

    def set_threads(self, conn: Connection, thread_ids: Iterable[int]) -> None:
        """Replace the thread list a socket hears (after a ``subscribe``)."""
        if self._by_user.get(conn.user_id) is conn:
            self._unindex(conn)
            conn.thread_ids = set(thread_ids)
            self._index(conn, conn.thread_ids)

    def _replace(self, old: Connection | None) -> None:
        if old is not None:
            old.close(CLOSE_REPLACED, "replaced")
            self.disconnect(old)

    def _index(self, conn: Connection, thread_ids: Iterable[int]) -> None:
        for thread_id in thread_ids:
            conn.thread_ids.add(thread_id)
            self._by_thread.setdefault(thread_id, set()).add(conn.user_id)

    def _unindex(self, conn: Connection) -> None:
        for thread_id in conn.thread_ids:
            users = self._by_thread.get(thread_id)
            if users is not None:
                users.discard(conn.user_id)
                if not users:
                    del self._by_thread[thread_id]

    def _local(self, thread_id: int | None) -> list[Connection]:
        return [self._by_user[u] for u in self._by_thread.get(thread_id, ()) if u in self._by_user]

    @property
    def connection_count(self) -> int:
        return len(self._by_user)

    # -- bus events -----------------------------------------------------------------------
    def receive(self, bus_event: BusEvent) -> None:
        """The bus sink (called in the event loop): queue for the dispatcher."""
        self._events.put_nowait(bus_event)

    async def run(self) -> None:
        """The dispatcher task: handle queued events in order, in batches, until cancelled."""
        while True:
            batch = [await self._events.get()]
            while not self._events.empty():
                batch.append(self._events.get_nowait())
            try:
                await self._dispatch(batch)
            except Exception:  # one bad batch must not stop the fan-out
                logger.exception("chat dispatcher failed on a batch of %d events", len(batch))

    async def _dispatch(self, batch: list[BusEvent]) -> None:
        wanted = {e.message_id for e in batch
                  if e.kind == "message" and e.message_id is not None and self._local(e.thread_id)}
        messages = await self._fetch(self._load_messages(wanted), batch) if wanted else {}
        for bus_event in batch:
            if bus_event.kind == "message":
                message = messages.get(bus_event.message_id)
                if message is not None:
                    self._deliver(message, bus_event.client_ref, bus_event.user_id)
            elif bus_event.kind == "resync":
                await self._resync(bus_event.message_id or 0)
            elif bus_event.kind == "gap":
                self._announcer.forget_all()
            else:
                self._handle_signal(bus_event)

    async def _fetch(self, loading: Awaitable, batch: list[BusEvent]):
        try:
            return await loading
        except SQLAlchemyError as exc:
            threads = {e.thread_id for e in batch if e.kind == "message"}
            logger.warning("chat dispatcher: database unavailable (%s); closing sockets of "
                           "threads %s", type(exc).__name__, sorted(t for t in threads if t))
            for thread_id in threads:
                for conn in self._local(thread_id):
                    conn.close(CLOSE_SERVER_ERROR, "database unavailable")
            return {}

    def _deliver(self, message: MessageOut, client_ref: str | None, sender_id: int | None) -> None:
        if not self._delivered.add(message):
            return
        frame = message_frame(message)
        for conn in self._local(message.thread_id):
            conn.push(message_frame(message, client_ref) if conn.user_id == sender_id else frame)

    async def _resync(self, after_id: int) -> None:
        thread_ids = list(self._by_thread)
        if not thread_ids:
            return
        missed = await self._fetch(self._load_after(thread_ids, after_id, RESYNC_LIMIT), [])
        for message in missed or ():
            self._deliver(message, None, None)

    def _session_elsewhere(self, bus_event: BusEvent) -> None:
        """A socket of ``user_id`` opened somewhere: close ours if older, else make it known."""
        if bus_event.origin == self.origin:
            return  # our own announcement, back from the bus
        user_id = bus_event.user_id
        theirs = (bus_event.opened_at or 0.0, bus_event.conn_id or "")
        if len(self._newest_elsewhere) >= USERS_KEPT:
            self._newest_elsewhere.clear()
        self._newest_elsewhere[user_id] = max(theirs, self._newest_elsewhere.get(user_id, theirs))
        conn = self._by_user.get(user_id)
        if conn is not None and conn.age_key > theirs:
            if not conn.announced:  # theirs is older and does not know of ours
                self._announcer.heard_elsewhere(user_id)
                self._announcer.defer(conn)
            return  # ours is newer and announced: theirs closes when our news reaches it
        if conn is not None:
            self._replace(conn)
        self._announcer.heard_elsewhere(user_id)

    def _handle_signal(self, bus_event: BusEvent) -> None:
        thread_id, user_id = bus_event.thread_id, bus_event.user_id
        if bus_event.kind == "session":
            self._session_elsewhere(bus_event)
        elif bus_event.kind == "thread":
            for member_id in bus_event.user_ids:
                conn = self._by_user.get(member_id)
                if conn is not None:
                    self._index(conn, [thread_id])
        elif bus_event.kind in ("typing", "read"):
            frame = (typing_frame(thread_id, user_id) if bus_event.kind == "typing"
                     else read_frame(thread_id, user_id, bus_event.message_id))
            for conn in self._local(thread_id):
                if conn.user_id != user_id:
                    conn.push(frame)
