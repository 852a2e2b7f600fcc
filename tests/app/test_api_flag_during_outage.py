"""A failed read of the freeze flag is not the flag: during an outage every answer is "database
unavailable" (503 with Retry-After, 1011 on sockets), whatever the flag was last seen as.

Real uvicorn on a throwaway cluster: the API sees the freeze, the flag is lifted behind its
back, then the database stops before the worker read the flag again. ``/healthz`` (answered
without the database) then carries no ``X-Maintenance`` banner either: the worker's last read
failed, so it does not know the flag.
"""

from __future__ import annotations

import json

import httpx
import pytest
from api_client import USER_EMAIL, USER_PASSWORD
from helpers import api_env, run_api
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.alembic_upgrade import upgrade_to_head
from app.crud.users import create_user
from app.errors import DB_RETRY_AFTER_SECONDS
from app.maintenance import set_maintenance
from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import create_database

pytestmark = pytest.mark.requires_pg
TIMEOUT_S = 20.0
UNAVAILABLE = {"detail": "database unavailable"}


def close_code(ws) -> tuple[int | None, str]:
    try:
        while True:
            ws.recv(timeout=TIMEOUT_S)
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")


def test_an_outage_after_the_freeze_was_lifted_is_not_reported_as_maintenance(
        throwaway_cluster, tmp_path):
    url = sqlalchemy_url(create_database(throwaway_cluster.url, owner="cutover_app"))
    upgrade_to_head(url)
    engine = create_engine(url)
    with Session(engine) as session:
        create_user(session, email=USER_EMAIL, name="alice", password=USER_PASSWORD)
    env = api_env(url, tmp_path / "uploads", MAINTENANCE_CACHE_SECONDS="0", DB_POOL_TIMEOUT="2")
    with run_api(env) as base:
        tokens = httpx.post(f"{base}/auth/login", json={"email": USER_EMAIL,
                                                        "password": USER_PASSWORD}).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        thread = httpx.post(f"{base}/threads", headers=auth, json={"title": "t"}).json()
        set_maintenance(engine, True, "cutover")
        assert httpx.get(f"{base}/status").json() == {"maintenance": True, "message": "cutover"}
        assert httpx.get(f"{base}/healthz").headers["x-maintenance"] == "cutover"
        ws_url = f"{base.replace('http', 'ws')}/ws?token={tokens['access_token']}"
        with connect(ws_url, open_timeout=TIMEOUT_S) as ws:
            assert json.loads(ws.recv(timeout=TIMEOUT_S))["type"] == "ready"
            set_maintenance(engine, False)  # lifted; the API has not read it since
            engine.dispose()
            throwaway_cluster.stop("fast")

            status = httpx.get(f"{base}/status", timeout=TIMEOUT_S)
            write = httpx.post(f"{base}/bookings", headers=auth, json={}, timeout=TIMEOUT_S)
            read = httpx.get(f"{base}/rooms", timeout=TIMEOUT_S)
            for answer in (status, write, read):
                assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), answer.text
                assert answer.headers["retry-after"] == str(DB_RETRY_AFTER_SECONDS)
                assert "x-maintenance" not in answer.headers
            health = httpx.get(f"{base}/healthz", timeout=TIMEOUT_S)  # answered without the db
            assert health.status_code == 200, health.text
            assert "x-maintenance" not in health.headers  # the failed reads are not the flag

            ws.send(json.dumps({"type": "send", "thread_id": thread["id"], "body": "hello"}))
            assert close_code(ws) == (1011, "database unavailable")

        throwaway_cluster.start()
        assert httpx.get(f"{base}/status").json() == {"maintenance": False, "message": None}
