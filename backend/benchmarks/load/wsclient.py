"""The client side of the chat WebSocket: connect with a token and wait for the ``ready`` frame."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

MAX_FRAME_BYTES = 1 << 20


class HandshakeFailed(Exception):
    """The socket did not reach ``ready``; ``kind`` sorts the cause, the message describes it."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def describe_close(exc: ConnectionClosed) -> str:
    """``closed 1011 (reason)`` for a close frame, ``closed without a close frame (1006)``."""
    received = exc.rcvd
    if received is None:
        return "closed without a close frame (1006)"
    return f"closed {received.code}" + (f" ({received.reason})" if received.reason else "")


async def open_socket(ws_url: str, token: str, timeout: float) -> tuple[ClientConnection, dict]:
    """Connect to ``ws_url?token=…`` and return the socket with its ``ready`` frame.

    Raises HandshakeFailed with kind ``status`` (HTTP answer instead of an upgrade), ``closed``
    (closed before ready), ``timeout``, ``connection`` or ``protocol`` (unexpected first frame).
    """
    deadline = time.monotonic() + timeout
    try:
        socket = await connect(f"{ws_url}?token={token}", open_timeout=timeout,
                               close_timeout=2, max_size=MAX_FRAME_BYTES, ping_interval=None)
    except InvalidStatus as exc:
        raise HandshakeFailed("status", f"handshake answered HTTP {exc.response.status_code}") \
            from None
    except (InvalidHandshake, OSError) as exc:
        raise HandshakeFailed("connection", f"{exc.__class__.__name__}: {exc}") from None
    except TimeoutError:
        raise HandshakeFailed("timeout", f"no upgrade within {timeout:.0f} s") from None
    try:
        raw = await _recv_before(socket, deadline)
    except BaseException:
        socket.transport.abort()
        raise
    try:
        frame = json.loads(raw)
    except ValueError:
        frame = {}
    if not isinstance(frame, dict) or frame.get("type") != "ready":
        socket.transport.abort()
        raise HandshakeFailed("protocol", f"first frame was not ready: {str(raw)[:200]}")
    return socket, frame


async def _recv_before(socket: ClientConnection, deadline: float) -> str | bytes:
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await socket.recv()
    except ConnectionClosed as exc:
        raise HandshakeFailed("closed", describe_close(exc)) from None
    except TimeoutError:
        raise HandshakeFailed("timeout", "no ready frame in time") from None
