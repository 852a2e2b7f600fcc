"""A reconnect storm of one token: the statements the database receives, counted on the server
(``log_statement = all`` for the test's database on a throwaway cluster), pg_notify included.

The promise: at most one statement per distinct token per token-cache TTL per worker (besides
transaction control and each worker's one-time start-up: its listener and the dialect's checks).

Reconnects one after another (a client that lost its connection) and all at once (many tabs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter

import psycopg2
import pytest
from helpers import api_env, run_api, upgrade_schema
from realtime_support import Seeder, joined, ws_url
from websockets.asyncio.client import connect as connect_async

from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import create_database

pytestmark = pytest.mark.requires_pg

STORM = 200
AT_ONCE = 20
CACHE_TTL_S = 600  # the whole storm within one TTL, however slow the machine
_STATEMENT = re.compile(r"LOG:  statement: (.*)")
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SELECT 1"}  # and the pool's pre-ping
WORKER_START_UP = ("LISTEN ", "SELECT coalesce(max(id), 0) FROM chat_messages",  # the listener
                   "select pg_catalog.version()", "select current_schema()", "show ",
                   "SELECT t.oid, typarray")  # SQLAlchemy's first connection of an engine
NOT_PER_TOKEN = ("transaction control", "worker start-up")


def kind_of(statement: str) -> str:
    lookup = "thread_members" in statement and "users" in statement
    if lookup:
        return "identity lookup + announcement" if "pg_notify" in statement else "identity lookup"
    if "pg_notify" in statement:
        return "notify"
    if statement.strip() in TRANSACTION_CONTROL:
        return "transaction control"
    return "worker start-up" if statement.startswith(WORKER_START_UP) else statement


def statements_between(log_text: str, start: str, end: str) -> Counter:
    inside, kinds = False, Counter()
    for line in log_text.splitlines():
        found = _STATEMENT.search(line)
        if found is None:
            continue
        if start in found.group(1):
            inside = True
        elif end in found.group(1):
            break
        elif inside:
            kinds[kind_of(found.group(1))] += 1
    return kinds


@pytest.fixture
def logged_db(throwaway_cluster) -> tuple[str, object]:
    """A migrated database whose every statement the server logs; (SQLAlchemy URL, cluster)."""
    libpq = create_database(throwaway_cluster.url, owner="cutover_app")
    with contextlib.closing(psycopg2.connect(throwaway_cluster.url)) as admin:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{libpq.rsplit("/", 1)[-1]}" SET log_statement = \'all\'')
    upgrade_schema(sqlalchemy_url(libpq))
    return libpq, throwaway_cluster


def mark(libpq: str, text: str) -> None:
    with contextlib.closing(psycopg2.connect(libpq)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT '{text}'")


def sequential(api: str, user) -> None:
    for _ in range(STORM):
        with joined(api, user):
            pass


def at_once(api: str, user) -> None:
    async def handshake() -> dict:
        async with connect_async(ws_url(api, user.token)) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 20))

    async def storm() -> None:
        for _ in range(STORM // AT_ONCE):
            readies = await asyncio.gather(*(handshake() for _ in range(AT_ONCE)))
            assert all(ready["type"] == "ready" for ready in readies)

    asyncio.run(storm())


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("storm", [sequential, at_once], ids=["one-after-another", "at-once"])
def test_a_reconnect_storm_costs_at_most_one_statement_per_worker(
        logged_db, tmp_path, workers, storm, capsys):
    """200 connects of one token within the cache TTL: at most one statement per worker, the
    identity lookup, which carries the socket's announcement (no pg_notify of its own)."""
    libpq, cluster = logged_db
    url = sqlalchemy_url(libpq)
    seed = Seeder(url)
    user = seed.user("stormy")
    seed.close()
    env = api_env(url, tmp_path / "uploads", WS_TOKEN_CACHE_SECONDS=str(CACHE_TTL_S))
    with run_api(env, workers=workers) as api:
        mark(libpq, "storm-start")
        storm(api, user)
        mark(libpq, "storm-end")
    kinds = statements_between(cluster.logfile.read_text(errors="replace"),
                               "storm-start", "storm-end")
    with capsys.disabled():
        print(f"\n{STORM} connects ({storm.__name__}), {workers} worker(s): {dict(kinds)}")
    per_token = {kind: n for kind, n in kinds.items() if kind not in NOT_PER_TOKEN}
    assert 1 <= sum(per_token.values()) <= workers, kinds
    assert kinds["identity lookup + announcement"] >= 1, kinds
