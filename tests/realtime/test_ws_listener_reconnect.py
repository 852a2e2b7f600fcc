"""The worker's LISTEN connection is killed (pg_terminate_backend): it reconnects, and messages
keep arriving — also one sent while it was gone (the listener catches up after reconnecting)."""

from __future__ import annotations

import contextlib
import time

import psycopg2
import pytest
from realtime_support import RECV_TIMEOUT_S, next_frame, pair_in_thread, send
from sqlalchemy.engine import make_url

from app.realtime.pg_bus import LISTENER_APPLICATION_NAME

pytestmark = pytest.mark.requires_pg

LISTENERS = ("SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = %s "
             "ORDER BY pid")


def _listener_pids(admin_url: str, database: str) -> list[int]:
    with contextlib.closing(psycopg2.connect(admin_url)) as conn, conn.cursor() as cur:
        cur.execute(LISTENERS, (LISTENER_APPLICATION_NAME, database))
        return [pid for (pid,) in cur.fetchall()]


def _wait_for_listener(admin_url: str, database: str, other_than: int | None = None) -> int:
    """Poll pg_stat_activity until one listener backend (not ``other_than``) is connected."""
    deadline = time.monotonic() + RECV_TIMEOUT_S
    while time.monotonic() < deadline:
        pids = [pid for pid in _listener_pids(admin_url, database) if pid != other_than]
        if len(pids) == 1:
            return pids[0]
        time.sleep(0.1)
    raise AssertionError(f"no new listener connection on {database} "
                         f"(still: {_listener_pids(admin_url, database)})")


def test_listener_reconnects_after_pg_terminate_backend(api, seed, pg_server, chat_db_url):
    database = make_url(chat_db_url).database
    with pair_in_thread(seed, api) as pair:
        listener = _wait_for_listener(pg_server.url, database)
        with contextlib.closing(psycopg2.connect(pg_server.url)) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (listener,))
            assert cur.fetchone() == (True,)
        send(pair.alice_ws, type="send", thread_id=pair.thread_id, body="during the gap")
        assert _wait_for_listener(pg_server.url, database, other_than=listener) != listener
        send(pair.alice_ws, type="send", thread_id=pair.thread_id, body="after the reconnect")
        for ws in (pair.bob_ws, pair.alice_ws):
            bodies = [next_frame(ws)["message"]["body"] for _ in range(2)]
            assert bodies == ["during the gap", "after the reconnect"]
        send(pair.bob_ws, type="send", thread_id=pair.thread_id, body="sentinel")  # no repeats
        assert next_frame(pair.alice_ws)["message"]["body"] == "sentinel"
