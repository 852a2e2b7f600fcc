"""The handshake's token cache: a reconnect storm costs one database query per token and TTL.

The app runs in a real uvicorn inside this process, so the test counts every statement its
engine sends (``before_cursor_execute``), on both backends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Iterator

import pytest
from helpers import TEST_SECRET_KEY, serve_in_thread
from realtime_support import close_of, create_thread, joined, open_socket, token_for, ws_url
from sqlalchemy import event
from websockets.asyncio.client import connect as connect_async

from app.db import database
from app.main import create_app
from app.settings import load_settings

RECONNECTS = 60
CACHE_TTL_SECONDS = 3600.0
STORM = 30


@pytest.fixture
def served(chat_db_url: str, tmp_path) -> Iterator[tuple[str, list[str]]]:
    """(base URL, statements the app's engine ran since the fixture started counting)."""
    # a TTL far longer than the test: on a loaded machine 60 reconnects outlast the default 30 s
    settings = load_settings(sqlalchemy_database_url=chat_db_url, secret_key=TEST_SECRET_KEY,
                             environment="test", upload_dir=tmp_path,
                             ws_token_cache_seconds=CACHE_TTL_SECONDS)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with serve_in_thread(create_app(settings, db_wait_seconds=5)) as base_url:
        engine = database.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            yield base_url, statements
        finally:
            event.remove(engine, "before_cursor_execute", count)
    database.reset()


def test_sequential_reconnects_of_one_token_query_the_database_once(served, seed) -> None:
    base_url, statements = served
    alice, bob = seed.user("alice"), seed.user("bob")
    thread_id = create_thread(base_url, alice, bob)
    statements.clear()
    for _ in range(RECONNECTS):
        with joined(base_url, alice) as (_, ready):
            assert ready == {"type": "ready", "user_id": alice.id, "thread_ids": [thread_id]}
    assert len(statements) == 1, statements
    assert "thread_members" in statements[0]


def test_concurrent_storm_of_one_token_queries_once(served, seed) -> None:
    base_url, statements = served
    carol = seed.user("carol")
    statements.clear()

    async def handshake() -> dict:
        async with connect_async(ws_url(base_url, carol.token)) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 20))

    async def storm() -> list[dict]:
        return await asyncio.gather(*(handshake() for _ in range(STORM)))

    readies = asyncio.run(storm())
    assert readies == [{"type": "ready", "user_id": carol.id, "thread_ids": []}] * STORM
    assert len(statements) == 1, statements


def test_cached_token_is_refused_once_it_expires(served, seed) -> None:
    base_url, _ = served
    dave = seed.user("dave")
    lifetime = load_settings(secret_key=TEST_SECRET_KEY).access_token_minutes * 60
    issued = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=lifetime - 2)  # expires in ~2 s
    token = token_for(dave.id, now=issued)
    with open_socket(base_url, token) as ws:
        assert json.loads(ws.recv(timeout=20))["type"] == "ready"  # now cached (for an hour)
    time.sleep(max(0.0, issued.timestamp() + lifetime - time.time()) + 1.1)
    with open_socket(base_url, token) as ws:
        assert close_of(ws) == (4401, "invalid or expired token")


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_socket_tokens_never_reach_the_server_log(served, seed) -> None:
    base_url, _ = served
    erin = seed.user("erin")
    uvicorn_log = logging.getLogger("uvicorn.error")
    captured, level = _Captured(), uvicorn_log.level
    uvicorn_log.addHandler(captured)
    uvicorn_log.setLevel(logging.INFO)
    try:
        with joined(base_url, erin):
            pass
    finally:
        uvicorn_log.removeHandler(captured)
        uvicorn_log.setLevel(level)
    accepted = [line for line in captured.lines if "[accepted]" in line]
    assert accepted and all("/ws?token=***" in line for line in accepted), captured.lines
    assert not any(erin.token in line for line in captured.lines)
