"""When a worker tells the others that a user's socket opened (a ``session`` event).

The announcement closes that user's older sockets on other workers (see ``hub``). It costs a
``pg_notify``, so it is sent only when another socket of the user may exist elsewhere, and at
most once per ``COALESCE_S`` per user and worker:

- Quiet: while the last announcement for a user on the bus was this worker's own, a new socket
  needs none (every socket opened elsewhere before it was closed by it; any opened after it was
  announced, which ends the quiet). A reconnect storm on one worker costs one announcement.
- Coalesced: a user announced less than ``COALESCE_S`` ago is announced again at the end of that
  interval, for the newest socket only and only if it is still open. A socket of the user on
  another worker may so outlive a newer one here by up to ``COALESCE_S``; a storm alternating
  between workers costs about one announcement per worker and interval instead of one per
  connect.
- After a listener gap (``forget_all``) nothing is taken as known.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.realtime.connection import Connection

COALESCE_S = 1.0
USERS_KEPT = 100_000  # beyond this the memory is dropped (more announcements, no harm)


class Announcer:
    """Decides when ``publish(conn)`` runs for the sockets of one worker."""

    def __init__(self, publish: Callable[[Connection], None],
                 newest: Callable[[int], Connection | None]) -> None:
        self._publish = publish
        self._newest = newest  # the user's socket on this worker now
        self._quiet: set[int] = set()  # users whose last announcement on the bus is ours
        self._last_at: dict[int, float] = {}
        self._later: dict[int, asyncio.TimerHandle] = {}

    def opened(self, conn: Connection) -> None:
        """A new socket on this worker (called in the event loop)."""
        user_id = conn.user_id
        if user_id in self._quiet or user_id in self._later:
            return
        wait = self._last_at.get(user_id, -COALESCE_S) + COALESCE_S - time.monotonic()
        if wait <= 0:
            self.announce(conn)
        else:
            self._later[user_id] = asyncio.get_running_loop().call_later(
                wait, self._announce_newest, user_id)

    def announce(self, conn: Connection) -> None:
        """Announce ``conn`` now."""
        if len(self._last_at) >= USERS_KEPT:
            self.forget_all()
        pending = self._later.pop(conn.user_id, None)
        if pending is not None:
            pending.cancel()
        conn.announced = True
        self._quiet.add(conn.user_id)
        self._last_at[conn.user_id] = time.monotonic()
        self._publish(conn)

    def _announce_newest(self, user_id: int) -> None:
        self._later.pop(user_id, None)
        conn = self._newest(user_id)
        if conn is not None and not conn.announced and not conn.closing:
            self.announce(conn)

    def heard_elsewhere(self, user_id: int) -> None:
        """Another worker announced a socket of this user: ours is no longer the last word."""
        self._quiet.discard(user_id)

    def forget_all(self) -> None:
        """Take nothing as known (after a listener gap): every user is announced again."""
        self._quiet.clear()
        self._last_at.clear()
