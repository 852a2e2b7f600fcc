"""One client socket: who it is, which threads it hears, and its outgoing frame queue.

Frames are queued without waiting (the dispatcher never blocks on a slow client) and written
by the socket's own writer task. A client whose queue overflows is closed with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

logger = logging.getLogger(__name__)

OUTBOX_LIMIT = 1000
CLOSE_REPLACED = 4000
CLOSE_BAD_TOKEN = 4401
CLOSE_SERVER_ERROR = 1011
CLOSE_TRY_AGAIN = 1013


@dataclass
class Opening:
    """A socket about to open: its id and opening time, fixed before the handshake's identity
    lookup so that the lookup can carry its announcement (``announced`` once it did)."""

    conn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    opened_at: float = field(default_factory=time.time)
    announced: bool = False


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Connection:
    """A connected, authenticated socket of ``user_id``."""

    def __init__(self, websocket: WebSocket, user_id: int, thread_ids: frozenset[int], *,
                 opening: Opening | None = None, token: str = "") -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.thread_ids: set[int] = set(thread_ids)
        self.opening = opening or Opening()
        self.token = token  # its access token (a later lookup can carry its announcement)
        self.closing = False
        self._outbox: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue(OUTBOX_LIMIT + 1)

    @property
    def conn_id(self) -> str:
        return self.opening.conn_id

    @property
    def opened_at(self) -> float:
        return self.opening.opened_at

    @property
    def announced(self) -> bool:
        """Told the other workers (a ``session`` event) that it opened."""
        return self.opening.announced

    @property
    def age_key(self) -> tuple[float, str]:
        """Orders sockets of a user by opening time (ties: by id), the same on every worker."""
        return self.opened_at, self.conn_id

    def push(self, frame: dict[str, Any]) -> None:
        """Queue a frame for the client (dropped once the socket is closing)."""
        if self.closing:
            return
        if self._outbox.qsize() >= OUTBOX_LIMIT:
            logger.warning("user %d reads too slowly; closing their socket", self.user_id)
            self.close(CLOSE_TRY_AGAIN, "too slow: outgoing queue full")
            return
        self._outbox.put_nowait(frame)

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued (idempotent; the first reason wins)."""
        if self.closing:
            return
        self.closing = True
        while self._outbox.full():
            self._outbox.get_nowait()
        self._outbox.put_nowait(_Close(code, reason))

    async def write_frames(self) -> None:
        """The writer task: send queued frames until a close is queued or the client is gone."""
        while True:
            item = await self._outbox.get()
            try:
                if isinstance(item, _Close):
                    await self.websocket.close(code=item.code, reason=item.reason)
                    return
                await self.websocket.send_text(json.dumps(item, separators=(",", ":")))
            except Exception:  # the client went away; nothing left to write to
                self.closing = True
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=1001)
                return
