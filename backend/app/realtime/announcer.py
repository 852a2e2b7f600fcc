"""When a worker tells the others that a user's socket opened (a ``session`` event).

The announcement closes that user's older sockets on other workers (see ``hub``). The promise
is at most one database statement per distinct token per token-cache TTL per worker, so an
announcement never costs a statement of its own: it rides on the handshake's identity lookup
(one ``SELECT`` that also calls ``pg_notify``), and is sent only when another socket of the
user may exist elsewhere:

- Quiet: while the last announcement for a user on the bus was this worker's own, a new socket
  needs none (every socket opened elsewhere before it was closed by it; any opened after it is
  announced by its worker, which ends the quiet). A reconnect storm on one worker costs one
  lookup, carrying one announcement.
- A token not cached: the lookup carries the announcement (``wanted``).
- A token cached while the user is not quiet (another worker announced a socket of the user
  since): the announcement waits until the token's cache entry expires, then goes with the
  lookup that renews the entry (``renew``), for the user's newest socket here and only if it is
  still open and unannounced. A socket of the user on another worker may so outlive a newer one
  here by up to the cache TTL (``WS_TOKEN_CACHE_SECONDS``); a storm alternating between workers
  costs one lookup per worker and TTL.
- After a listener gap (``forget_all``) nothing is taken as known.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.realtime.connection import Connection

USERS_KEPT = 100_000  # beyond this the memory is dropped (more announcements, no harm)


class Announcer:
    """Decides which lookups carry an announcement, and when a deferred one is renewed."""

    def __init__(self, renew: Callable[[Connection], None],
                 newest: Callable[[int], Connection | None],
                 expires_at: Callable[[str], float | None]) -> None:
        self._renew = renew  # start a lookup of conn's token that carries its announcement
        self._newest = newest  # the user's socket on this worker now
        self._expires_at = expires_at  # when a token's cache entry ends (epoch seconds)
        self._quiet: set[int] = set()  # users whose last announcement on the bus is ours
        self._later: dict[int, asyncio.TimerHandle] = {}

    def wanted(self, user_id: int) -> bool:
        """Must a lookup for a new socket of this user carry its announcement?"""
        return user_id not in self._quiet

    def sent(self, user_id: int) -> None:
        """A lookup carried the announcement of a socket of this user (and committed)."""
        if len(self._quiet) >= USERS_KEPT:
            self.forget_all()
        self._quiet.add(user_id)
        pending = self._later.pop(user_id, None)
        if pending is not None:
            pending.cancel()

    def opened(self, conn: Connection) -> None:
        """A new socket on this worker (called in the event loop, after its lookup if any)."""
        if not conn.announced and self.wanted(conn.user_id):
            self.defer(conn)

    def defer(self, conn: Connection) -> None:
        """Announce the user's newest socket with the lookup that renews its token's entry."""
        user_id = conn.user_id
        if user_id in self._later:
            return
        wait = max(0.0, (self._expires_at(conn.token) or 0.0) - time.time())
        self._later[user_id] = asyncio.get_running_loop().call_later(
            wait, self._renew_newest, user_id)

    def _renew_newest(self, user_id: int) -> None:
        self._later.pop(user_id, None)
        conn = self._newest(user_id)
        if conn is not None and not conn.announced and not conn.closing and self.wanted(user_id):
            self._renew(conn)

    def heard_elsewhere(self, user_id: int) -> None:
        """Another worker announced a socket of this user: ours is no longer the last word."""
        self._quiet.discard(user_id)

    def forget_all(self) -> None:
        """Take nothing as known (after a listener gap): every user is announced again."""
        self._quiet.clear()
