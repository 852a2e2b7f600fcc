"""A reconnect storm of one token: the statements the database receives, counted on the server
(``log_statement = all`` for the test's database on a throwaway cluster), pg_notify included.

Reconnects one after another (a client that lost its connection) and all at once (many tabs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from collections import Counter

import psycopg2
import pytest
from helpers import api_env, run_api, upgrade_schema
from realtime_support import Seeder, joined, ws_url
from websockets.asyncio.client import connect as connect_async

from app.realtime.announcer import COALESCE_S
from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import create_database

pytestmark = pytest.mark.requires_pg

STORM = 200
AT_ONCE = 20
_STATEMENT = re.compile(r"LOG:  statement: (.*)")
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SELECT 1"}  # and the pool's pre-ping


def kind_of(statement: str) -> str:
    if "pg_notify" in statement:
        return "notify"
    if "thread_members" in statement and "users" in statement:
        return "identity lookup"
    return "transaction control" if statement.strip() in TRANSACTION_CONTROL else statement


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
def test_a_reconnect_storm_costs_one_lookup_per_worker_and_coalesced_notifies(
        logged_db, tmp_path, workers, storm, capsys):
    """One identity lookup per worker (the token cache) and, for the socket announcements, one
    pg_notify on one worker; across workers, at most one per worker and COALESCE_S (plus one
    answer to another worker's announcement each) instead of about one per connect."""
    libpq, cluster = logged_db
    url = sqlalchemy_url(libpq)
    seed = Seeder(url)
    user = seed.user("stormy")
    seed.close()
    with run_api(api_env(url, tmp_path / "uploads"), workers=workers) as api:
        mark(libpq, "storm-start")
        started = time.monotonic()
        storm(api, user)
        intervals = math.ceil((time.monotonic() - started) / COALESCE_S) + 1
        mark(libpq, "storm-end")
    kinds = statements_between(cluster.logfile.read_text(errors="replace"),
                               "storm-start", "storm-end")
    with capsys.disabled():
        print(f"\n{STORM} connects ({storm.__name__}), {workers} worker(s): {dict(kinds)}")
    assert kinds["identity lookup"] <= workers, kinds
    if workers == 1:
        assert kinds["notify"] == 1, kinds
    else:
        assert kinds["notify"] <= 2 * workers * intervals, (kinds, intervals)
