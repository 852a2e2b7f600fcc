"""A database outage closes chat sockets with 1011 and a reason; once it is back, clients
reconnect and chat again. Real uvicorn subprocess on a throwaway cluster that the test stops."""

from __future__ import annotations

import pytest
from helpers import api_env, run_api, upgrade_schema
from realtime_support import (
    Seeder,
    close_of,
    create_thread,
    joined,
    next_frame,
    open_socket,
    send,
)

from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import create_database

pytestmark = pytest.mark.requires_pg


def test_outage_closes_with_1011_and_reconnect_works_after(throwaway_cluster, tmp_path) -> None:
    db_url = sqlalchemy_url(create_database(throwaway_cluster.url, owner="cutover_app"))
    upgrade_schema(db_url)
    seed = Seeder(db_url)
    alice, bob = seed.user("alice"), seed.user("bob")
    seed.close()
    with run_api(api_env(db_url, tmp_path / "uploads", DB_POOL_TIMEOUT="2")) as api:
        thread_id = create_thread(api, alice, bob)
        with joined(api, alice) as (ws, _):
            throwaway_cluster.stop()
            send(ws, type="send", thread_id=thread_id, body="into the void")
            assert close_of(ws) == (1011, "database unavailable")
        with open_socket(api, bob.token) as ws:  # not cached yet: the handshake needs the DB
            assert close_of(ws) == (1011, "database unavailable")

        throwaway_cluster.start()
        with joined(api, alice) as (alice_ws, _), joined(api, bob) as (bob_ws, ready):
            assert ready["thread_ids"] == [thread_id]
            send(alice_ws, type="send", thread_id=thread_id, body="back again")
            assert next_frame(bob_ws)["message"]["body"] == "back again"
            assert next_frame(alice_ws)["message"]["body"] == "back again"
