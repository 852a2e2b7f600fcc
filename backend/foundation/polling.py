"""Waiting for something to become true, bounded in time: one tenacity-based helper.

Every wait in the project (a server answering ``SELECT 1``, ``/readyz`` answering 200, a port
accepting connections, a process exiting, the API acting on the freeze flag) has the same shape:
try, and if it is not there yet, pause and try again until a deadline. ``attempt`` raises
:class:`NotYet` (or one of ``retry_on``) while it should be retried; when time is up the last of
those exceptions is raised to the caller, who turns it into its own message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")


class NotYet(Exception):
    """The awaited state is not there yet; the message says what was seen instead."""


def poll_until(attempt: Callable[[], T], *, timeout: float, interval: float,
               max_interval: float | None = None,
               retry_on: tuple[type[BaseException], ...] = (),
               before_sleep: Callable[[tenacity.RetryCallState], None] | None = None) -> T:
    """Call ``attempt`` until it returns (its value is returned) or ``timeout`` seconds pass.

    Pauses ``interval`` seconds between attempts; with ``max_interval`` the pause doubles after
    each attempt up to that ceiling. An exception other than :class:`NotYet` and ``retry_on``
    ends the wait at once.
    """
    wait = (tenacity.wait_exponential(multiplier=interval, min=interval, max=max_interval)
            if max_interval else tenacity.wait_fixed(interval))
    retrying = tenacity.Retrying(
        stop=tenacity.stop_before_delay(timeout), wait=wait, reraise=True,
        retry=tenacity.retry_if_exception_type((NotYet, *retry_on)), before_sleep=before_sleep)
    return retrying(attempt)
