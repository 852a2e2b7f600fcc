"""The PostgreSQL bus: NOTIFY inside the writing transaction, one LISTEN connection per worker.

The listener is a thread owning one dedicated psycopg2 connection (outside the pool). It waits
in ``select`` on that connection and a wake-up socket, hands notifications to the event loop,
sends queued ephemeral events as one batched ``pg_notify`` and checks the connection with
``SELECT 1`` when idle. When the connection drops (server restart, ``pg_terminate_backend``)
it reconnects with exponential backoff and then asks the dispatcher to catch up on messages
committed meanwhile (``resync``), so nothing is lost to the gap.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import select
import socket
import threading

import psycopg2
from sqlalchemy import ColumnElement, Engine, func
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from app.realtime.bus import LoopHandoff, Sink
from app.realtime.events import CHANNEL, BadEvent, BusEvent

logger = logging.getLogger(__name__)

LISTENER_APPLICATION_NAME = "booking-chat-listener"
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0
IDLE_CHECK_S = 15.0
CONNECT_TIMEOUT_S = 5
CATCH_UP_MARGIN = 100  # ids below the high-water mark re-checked after a gap (late commits)
_BATCH_NOTIFY = "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload"


def _short(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"


class PostgresBus:
    """LISTEN/NOTIFY on channel ``chat_events`` through the engine's database."""

    def __init__(self, engine: Engine, channel: str = CHANNEL) -> None:
        if engine.dialect.driver != "psycopg2":
            raise RuntimeError(f"the chat bus needs the psycopg2 driver, not "
                               f"{engine.dialect.driver!r} (use postgresql+psycopg2://…)")
        self.channel = channel
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (tuple(cargs), dict(cparams))
        self._handoff = LoopHandoff()
        self._outbox: collections.deque[BusEvent] = collections.deque()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread: threading.Thread | None = None
        self._high_water: int | None = None  # highest message id known to this worker
        self.connects = 0  # successful (re)connections, for tests and monitoring

    # -- the event loop side -------------------------------------------------------------
    async def start(self, sink: Sink) -> None:
        self._handoff.attach(sink)
        self._thread = threading.Thread(target=self._run, name="chat-bus-listener", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, CONNECT_TIMEOUT_S + 1)
        self._handoff.detach()
        self._wake_r.close()
        self._wake_w.close()

    def publish_in(self, session: Session, bus_event: BusEvent) -> None:
        session.execute(sql_select(func.pg_notify(self.channel, bus_event.to_payload())))

    def notify_column(self, bus_event: BusEvent) -> ColumnElement:
        """``(SELECT pg_notify(…))``: evaluated once per statement, and only if it yields a row."""
        return sql_select(func.pg_notify(self.channel, bus_event.to_payload())).scalar_subquery()

    def publish_now(self, bus_event: BusEvent) -> None:
        self._outbox.append(bus_event)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake, or closed during shutdown

    # -- the listener thread --------------------------------------------------------------
    def _run(self) -> None:
        delay = RECONNECT_MIN_S
        while not self._stopping.is_set():
            conn = None
            try:
                conn = self._open()
                delay = RECONNECT_MIN_S
                self._catch_up(conn)
                self._pump(conn)
            except (psycopg2.Error, OSError) as exc:
                logger.warning("chat bus listener: %s; reconnecting in %.1f s", _short(exc), delay)
                self._outbox.clear()  # typing and session news go stale; do not replay them
            finally:
                if conn is not None:
                    conn.close()
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _open(self):
        cargs, cparams = self._connect_args
        conn = psycopg2.connect(*cargs, **{
            **cparams, "application_name": LISTENER_APPLICATION_NAME,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
            "keepalives_count": 3,
        })
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'LISTEN "{self.channel}"')
        self.connects += 1
        return conn

    def _catch_up(self, conn) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM chat_messages")
            newest = cur.fetchone()[0]
        if self._high_water is not None:
            self._handoff.deliver(BusEvent(kind="gap"))
        if self._high_water is not None and newest > self._high_water:
            logger.info("chat bus listener back; catching up after message %d", self._high_water)
            after = max(0, self._high_water - CATCH_UP_MARGIN)
            self._handoff.deliver(BusEvent(kind="resync", message_id=after))
        self._high_water = max(newest, self._high_water or 0)

    def _pump(self, conn) -> None:
        while not self._stopping.is_set():
            self._send_outbox(conn)
            self._take_notifies(conn)  # our own queries may have brought some in already
            readable, _, _ = select.select([conn, self._wake_r], [], [], IDLE_CHECK_S)
            if not readable:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
            if self._wake_r in readable:
                self._drain_wake()
            if conn in readable:
                conn.poll()

    def _take_notifies(self, conn) -> None:
        while conn.notifies:
            self._receive(conn.notifies.pop(0).payload)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _send_outbox(self, conn) -> None:
        payloads = []
        while self._outbox:
            payloads.append(self._outbox.popleft().to_payload())
        if payloads:
            with conn.cursor() as cur:
                cur.execute(_BATCH_NOTIFY, (self.channel, payloads))

    def _receive(self, payload: str) -> None:
        try:
            bus_event = BusEvent.from_payload(payload)
        except BadEvent as exc:
            logger.warning("chat bus: ignored %s", exc)
            return
        if bus_event.kind == "message" and bus_event.message_id is not None:
            self._high_water = max(self._high_water or 0, bus_event.message_id)
        self._handoff.deliver(bus_event)
