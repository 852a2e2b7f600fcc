"""The fan-out bus interface and its in-process implementation (SQLite: one worker process).

A bus carries ``BusEvent``s to a ``sink`` running in the worker's event loop:
- ``publish_in(session, event)``: transactional; delivered only if that session commits.
- ``publish_now(event)``: ephemeral (typing, session announcements); best effort.
- ``notify_column(event)``: a column that, selected in a query of a session, publishes the event
  when that session commits (so the query's statement carries it); None when the bus has no
  such thing (then ``publish_in``).
``bus_selection.bus_for(engine)`` picks LISTEN/NOTIFY on PostgreSQL and this bus elsewhere. The
in-process bus reaches sockets of this process only: run one worker on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import ColumnElement, event
from sqlalchemy.orm import Session

from app.realtime.events import BusEvent

logger = logging.getLogger(__name__)
Sink = Callable[[BusEvent], None]
_PENDING = "realtime_pending_events"


class Bus(Protocol):
    async def start(self, sink: Sink) -> None: ...

    async def stop(self) -> None: ...

    def publish_in(self, session: Session, bus_event: BusEvent) -> None: ...

    def publish_now(self, bus_event: BusEvent) -> None: ...

    def notify_column(self, bus_event: BusEvent) -> ColumnElement | None: ...


class LoopHandoff:
    """Hands events from any thread to the sink, inside the loop the bus was started in."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: Sink | None = None

    def attach(self, sink: Sink) -> None:
        self._loop = asyncio.get_running_loop()
        self._sink = sink

    def detach(self) -> None:
        self._sink = None

    def deliver(self, bus_event: BusEvent) -> None:
        loop, sink = self._loop, self._sink
        if loop is None or sink is None:
            return  # not started: this process has no sockets to deliver to
        try:
            loop.call_soon_threadsafe(sink, bus_event)
        except RuntimeError:  # the loop is closed (shutting down)
            logger.debug("dropped %s event: event loop closed", bus_event.kind)


class InProcessBus:
    """Events go straight to this process's sink; transactional ones after the commit."""

    def __init__(self) -> None:
        self._handoff = LoopHandoff()

    async def start(self, sink: Sink) -> None:
        self._handoff.attach(sink)

    async def stop(self) -> None:
        self._handoff.detach()

    def publish_in(self, session: Session, bus_event: BusEvent) -> None:
        pending = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_rollback", _forget_pending)
        pending.append(bus_event)

    def _after_commit(self, session: Session) -> None:
        pending = session.info.get(_PENDING, [])
        for bus_event in pending:
            self._handoff.deliver(bus_event)
        pending.clear()

    def publish_now(self, bus_event: BusEvent) -> None:
        self._handoff.deliver(bus_event)

    def notify_column(self, bus_event: BusEvent) -> ColumnElement | None:
        return None


def _forget_pending(session: Session) -> None:
    session.info.get(_PENDING, []).clear()

