"""Back-pressure instead of hangs, on real uvicorn processes and a real PostgreSQL.

An exhausted pool and a database stopped under traffic both answer 503 with Retry-After (never a
500, a reset or a hang), /readyz goes red, and the same worker processes recover by themselves
(pool pre-ping: a connection that died with the server is replaced before a request uses it).
The httpx timeout is a failure bound (a hang fails the test), not a speed claim.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal

import httpx
import psutil
import pytest
from api_client import USER_EMAIL, USER_PASSWORD, bearer, login
from api_traffic import (
    FAILURE_BOUND_S,
    RETRY_AFTER,
    WAIT_BOUND_S,
    Traffic,
    wait_until,
    worker_pids,
)
from helpers import api_env, run_api
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from app.alembic_upgrade import upgrade_to_head
from app.crud.rooms import create_room
from app.crud.users import create_user
from app.db import database, get_db
from app.payloads import RoomCreate
from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import TemporaryCluster, create_database

pytestmark = pytest.mark.requires_pg


def _seed_user_and_room(engine: Engine) -> int:
    """The test user and one room, straight into the database; returns the room's id."""
    with Session(engine, expire_on_commit=False) as session:
        create_user(session, email=USER_EMAIL, name="alice", password=USER_PASSWORD)
        room = create_room(session, room_in=RoomCreate(name="Hopper", capacity=4,
                                                       hourly_rate=Decimal("10.00")))
    return room.id


def _lock_waiters(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"))


def _seeded_database(cluster: TemporaryCluster) -> tuple[str, int]:
    """A new database on ``cluster`` at Alembic head with the user and a room: (URL, room id)."""
    url = sqlalchemy_url(create_database(cluster.url))
    upgrade_to_head(url)
    seed = create_engine(url)
    room_id = _seed_user_and_room(seed)
    seed.dispose()
    return url, room_id


@contextmanager
def _frozen(cluster: TemporaryCluster) -> Iterator[None]:
    """The cluster's processes stopped (SIGSTOP): sockets stay open, nothing answers."""
    postmaster = psutil.Process(int((cluster.datadir / "postmaster.pid").read_text().split()[0]))
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)


def _one_connection_env(url: str, upload_dir, **extra: str) -> dict[str, str]:
    """A single-process API whose pool is one connection, given up for after 1 s of waiting."""
    return api_env(url, upload_dir, DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="1",
                   **extra)


def test_exhausted_pool_answers_503_with_retry_after_then_recovers(migrated_url, engine,
                                                                   upload_dir):
    _seed_user_and_room(engine)
    # lock_timeout: even if this test never released its lock, the blocked request would end
    env = _one_connection_env(f"{migrated_url}?options=-c%20lock_timeout%3D20s", upload_dir)
    with run_api(env) as base_url, httpx.Client(base_url=base_url,
                                                 timeout=FAILURE_BOUND_S) as client:
        headers = bearer(login(client, USER_EMAIL, USER_PASSWORD))
        with engine.connect() as locker, ThreadPoolExecutor(1) as background:
            locker.execute(text("SET idle_in_transaction_session_timeout = '30s'"))
            locker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            holder = background.submit(httpx.get, f"{base_url}/auth/me", headers=headers,
                                       timeout=WAIT_BOUND_S)
            wait_until(lambda: _lock_waiters(engine) >= 1,
                       "a request to hold the pool's only connection")
            refused = client.get("/auth/me", headers=headers)
            not_ready = client.get("/readyz")
            locker.rollback()  # releases the lock: the held request finishes
            held = holder.result()
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == RETRY_AFTER
        assert refused.json() == {"detail": "database unavailable"}
        assert not_ready.status_code == 503 and not_ready.headers["Retry-After"] == RETRY_AFTER
        assert held.status_code == 200, held.text
        assert client.get("/auth/me", headers=headers).json()["email"] == USER_EMAIL
        assert client.get("/readyz").json() == {"status": "ready"}


def test_session_teardown_survives_a_connection_that_died_after_the_work(settings, engine):
    # FastAPI closes the request's session after the response is sent: a rollback failing there
    # would make uvicorn drop the keep-alive socket (the client's next request: a reset)
    database.configure(settings)
    try:
        with contextmanager(get_db)() as session:
            backend_pid = session.scalar(text("SELECT pg_backend_pid()"))  # opens a transaction
            with engine.connect() as admin:
                assert admin.scalar(text("SELECT pg_terminate_backend(:pid, 10000)"),
                                    {"pid": backend_pid})  # waits until the backend is gone
        with contextmanager(get_db)() as session:  # the pool let go of the dead connection
            assert session.scalar(text("SELECT pg_backend_pid()")) != backend_pid
    finally:
        database.reset()


def test_quiet_restart_pre_ping_replaces_the_dead_pooled_connection(throwaway_cluster,
                                                                    upload_dir):
    url, _room_id = _seeded_database(throwaway_cluster)
    # a long maintenance cache: the first request after the restart is the handler's own query
    env = _one_connection_env(url, upload_dir, MAINTENANCE_CACHE_SECONDS="3600")
    with run_api(env) as base_url, httpx.Client(base_url=base_url,
                                                 timeout=FAILURE_BOUND_S) as client:
        headers = bearer(login(client, USER_EMAIL, USER_PASSWORD))
        assert client.get("/auth/me", headers=headers).status_code == 200
        throwaway_cluster.stop("fast")  # the pool's only connection is now dead
        throwaway_cluster.start()
        first = client.get("/auth/me", headers=headers)
        assert first.status_code == 200, f"{first.status_code}: {first.text}"
        assert client.get("/readyz").json() == {"status": "ready"}


def test_silent_database_answers_503_within_the_bound_and_recovers(throwaway_cluster,
                                                                  upload_dir):
    url, _room_id = _seeded_database(throwaway_cluster)
    with run_api(api_env(url, upload_dir, DB_POOL_TIMEOUT="1")) as base_url, \
            httpx.Client(base_url=base_url, timeout=FAILURE_BOUND_S) as client:
        headers = bearer(login(client, USER_EMAIL, USER_PASSWORD))
        assert client.get("/auth/me", headers=headers).status_code == 200  # a pooled connection
        with _frozen(throwaway_cluster):
            answers = [client.get("/readyz"), client.get("/auth/me", headers=headers)]
        for answer in answers:
            assert answer.status_code == 503, f"{answer.url}: {answer.status_code}"
            assert answer.headers["Retry-After"] == RETRY_AFTER
        wait_until(lambda: client.get("/readyz").status_code == 200, "/readyz after the thaw")
        assert client.get("/auth/me", headers=headers).status_code == 200


def test_database_restart_under_traffic_answers_503_and_same_workers_recover(
        throwaway_cluster, upload_dir):
    url, room_id = _seeded_database(throwaway_cluster)
    env = api_env(url, upload_dir, DB_POOL_TIMEOUT="2")
    with run_api(env, workers=2) as base_url, httpx.Client(base_url=base_url,
                                                            timeout=FAILURE_BOUND_S) as client:
        port = httpx.URL(base_url).port
        wait_until(lambda: len(worker_pids(port)) == 2, "two uvicorn workers")
        workers = worker_pids(port)
        with Traffic(base_url, bearer(login(client, USER_EMAIL, USER_PASSWORD)),
                     room_id) as traffic:
            traffic.wait_for("up", "book", 201)
            traffic.phase = "stopping"
            throwaway_cluster.stop("fast")
            traffic.phase = "down"
            traffic.wait_for("down", "ready", 503)
            time.sleep(2)  # traffic keeps going against the stopped database
            traffic.phase = "starting"
            throwaway_cluster.start()
            traffic.phase = "restarted"
            for kind, status in (("me", 200), ("book", 201), ("ready", 200)):
                traffic.wait_for("restarted", kind, status)
        assert worker_pids(port) == workers, "a worker was restarted"

    wrong = [o for o in traffic.outcomes if not o.acceptable]
    assert not wrong, f"{len(wrong)} unacceptable answers, e.g. {wrong[:5]}"
    statuses = {phase: [o.status for o in traffic.outcomes if o.phase == phase]
                for phase in ("up", "down", "restarted")}
    assert set(statuses["down"]) == {503}, statuses["down"]
    assert set(statuses["up"] + statuses["restarted"]) <= {200, 201}, statuses
    booked = {o.booking_id for o in traffic.outcomes if o.status == 201}
    check = create_engine(url)
    with check.connect() as connection:
        stored = set(connection.scalars(text("SELECT id FROM bookings")))
    check.dispose()
    assert booked and booked <= stored, f"bookings answered 201 but missing: {booked - stored}"
