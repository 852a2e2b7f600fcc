"""Handshake authentication through a short-lived cache: token → (user id, thread ids).

A reconnect storm of one token costs one database query per TTL: concurrent handshakes of a
token that is not cached yet wait for the first one's lookup instead of querying themselves.
An entry never outlives the token's own expiry. Entries of a user are dropped when that user's
threads change (see ``forget_user``).

A lookup may carry the announcement of the socket being opened (``opening``; see
``announcer``), so that a socket costs no statement besides its token's lookup.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.realtime.connection import Opening
from app.security import InvalidToken

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Identity:
    """Who a socket belongs to and which threads it hears."""

    user_id: int
    thread_ids: frozenset[int]


@dataclass(frozen=True)
class _Entry:
    identity: Identity
    valid_until: float  # epoch seconds


class TokenCache:
    """``resolve(token)`` → Identity; InvalidToken for bad/expired tokens or unknown users.

    ``decode(token) -> user_id`` checks the signature (raises InvalidToken), ``expiry(token)``
    gives its ``exp`` in epoch seconds, ``load(user_id, opening)`` awaits the database lookup
    (which may announce ``opening``) and returns the user's thread ids or None when the user does
    not exist. Database errors propagate.
    """

    def __init__(self, *, ttl_seconds: float, decode: Callable[[str], int],
                 expiry: Callable[[str], float],
                 load: Callable[[int, Opening | None], Awaitable[frozenset[int] | None]],
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl_seconds = ttl_seconds
        self._decode = decode
        self._expiry = expiry
        self._load = load
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Identity]] = {}
        self.lookups = 0  # database lookups made (a figure for tests and monitoring)

    def _cached(self, token: str) -> Identity | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self._clock() >= entry.valid_until:
            del self._entries[token]
            return None
        return entry.identity

    def expires_at(self, token: str) -> float | None:
        """When the token's entry ends (epoch seconds); None when it is not cached."""
        entry = self._entries.get(token)
        return None if entry is None else entry.valid_until

    async def renew(self, token: str, opening: Opening | None = None) -> Identity:
        """Look the token up again now (its entry is replaced), carrying ``opening``."""
        self._entries.pop(token, None)
        return await self.resolve(token, opening)

    async def resolve(self, token: str, opening: Opening | None = None) -> Identity:
        """The token's identity: cached, or from the lookup in flight, or from a new lookup
        (which carries ``opening``; waiters of a lookup in flight do not announce theirs)."""
        cached = self._cached(token)
        if cached is not None:
            return cached
        pending = self._pending.get(token)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Identity] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        try:
            identity = await self._lookup(token, opening)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(identity)
            return identity
        finally:
            del self._pending[token]

    async def _lookup(self, token: str, opening: Opening | None) -> Identity:
        user_id = self._decode(token)
        self.lookups += 1
        thread_ids = await self._load(user_id, opening)
        if thread_ids is None:
            raise InvalidToken(f"user {user_id} does not exist")
        identity = Identity(user_id=user_id, thread_ids=thread_ids)
        valid_until = min(self._clock() + self.ttl_seconds, self._expiry(token))
        if valid_until > self._clock():
            self._entries[token] = _Entry(identity, valid_until)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return identity

    def forget_user(self, user_id: int) -> None:
        """Drop every cached token of a user (their thread list changed)."""
        for token in [t for t, e in self._entries.items() if e.identity.user_id == user_id]:
            del self._entries[token]

    def __len__(self) -> int:
        return len(self._entries)
