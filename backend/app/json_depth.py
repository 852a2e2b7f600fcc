"""How deeply a JSON document nests, checked before anything parses it.

Python's parser and every recursive walk after it (validation, the text rules of
``app.payloads``) fail with RecursionError on documents nested a few hundred levels deep. Nothing
this API takes needs more than a few levels, so HTTP bodies (``JsonDepthGuard``, answering 400)
and socket frames (``app.realtime.protocol``) are refused past ``MAX_JSON_DEPTH`` with a message
that says so.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 32
# a string (skipped whole, escapes included) or one bracket; bytes, as the body arrives
_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')


def depth_problem(document: bytes | str, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``document`` nests too deeply (naming the character where it does), or None."""
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    depth = 0
    for token in _TOKEN.finditer(data):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return (f"JSON nested deeper than {limit} levels "
                        f"(at character {token.start() + 1})")
        elif bracket in (b"]", b"}"):
            depth -= 1
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return False


class JsonDepthGuard:
    """ASGI middleware: a JSON request body nested past MAX_JSON_DEPTH answers 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        first, body = await _read_body(receive)
        problem = depth_problem(body)
        if problem is not None:
            await JSONResponse({"detail": problem}, status_code=400)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return first

        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> tuple[Message, bytes]:
    """The whole body as one message (or the disconnect that cut it short), and its bytes."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message, b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            body = b"".join(chunks)
            return {"type": "http.request", "body": body, "more_body": False}, body

