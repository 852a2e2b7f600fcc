"""Deadlines on blocking database calls: one watchdog thread per process, not one per call.

A server that stops answering without closing the socket (frozen, or a proxy whose upstream
hangs) would hold a blocking read for ever; at the deadline the watchdog shuts the socket down,
which ends the read with a disconnect error. Arming and disarming cost a lock and a dict entry,
so this can sit on every pooled checkout.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator


def _shut_down_socket(fileno: int) -> None:
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fileno)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """Shuts down the socket of every armed call still running at its deadline."""

    def __init__(self) -> None:
        self._wakeup = threading.Condition()
        self._armed: dict[int, tuple[float, int]] = {}  # token → (deadline, socket fileno)
        self._expired: set[int] = set()
        self._tokens = itertools.count()
        self._owner_pid: int | None = None  # the thread does not survive a fork
        self._sleeping_until = float("inf")  # the thread's next wake-up

    def arm(self, fileno: int, seconds: float) -> int:
        with self._wakeup:
            if self._owner_pid != os.getpid():
                self._owner_pid = os.getpid()
                self._sleeping_until = float("inf")
                threading.Thread(target=self._run, name="db-socket-deadlines",
                                 daemon=True).start()
            token = next(self._tokens)
            deadline = time.monotonic() + seconds
            self._armed[token] = (deadline, fileno)
            if deadline < self._sleeping_until:  # else it wakes in time anyway
                self._wakeup.notify()
            return token

    def disarm(self, token: int) -> bool:
        """Forget the call; True when its deadline had already struck."""
        with self._wakeup:
            self._armed.pop(token, None)
            expired = token in self._expired
            self._expired.discard(token)
            return expired

    def expired(self, token: int) -> bool:
        with self._wakeup:
            return token in self._expired

    def _run(self) -> None:
        with self._wakeup:
            while True:
                now = time.monotonic()
                for token, (deadline, fileno) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._expired.add(token)
                        _shut_down_socket(fileno)
                self._sleeping_until = min((deadline for deadline, _ in self._armed.values()),
                                           default=float("inf"))
                self._wakeup.wait(self._sleeping_until - now if self._armed else None)


_watchdog = _Watchdog()


@contextlib.contextmanager
def socket_deadline(dbapi_connection, seconds: float) -> Iterator[Callable[[], bool]]:
    """Shut the connection's socket down if the block has not finished within ``seconds``.

    Yields ``expired()``: whether the deadline struck (the connection is then unusable).
    """
    token = _watchdog.arm(dbapi_connection.fileno(), seconds)
    struck = False
    try:
        yield lambda: struck or _watchdog.expired(token)
    finally:
        struck = _watchdog.disarm(token)
