"""Health, readiness and the maintenance freeze (flag in the database, seen by every process)."""

from __future__ import annotations

import httpx
from api_client import USER_EMAIL, USER_PASSWORD, bearer
from helpers import api_env, run_api

from app.maintenance import read_maintenance, set_maintenance


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_status_without_a_row_is_not_frozen(client, engine):
    assert read_maintenance(engine).enabled is False
    response = client.get("/status")
    assert response.json() == {"maintenance": False, "message": None}
    assert "x-maintenance" not in response.headers


def test_freeze_blocks_writes_but_not_reads_or_login(client, engine, user_headers, room):
    set_maintenance(engine, True, "moving to PostgreSQL — back at 14:00")
    assert read_maintenance(engine).message == "moving to PostgreSQL — back at 14:00"

    write = client.post("/bookings", headers=user_headers, json={
        "room_id": room["id"], "title": "t", "starts_at": "2030-01-01T10:00:00Z",
        "ends_at": "2030-01-01T11:00:00Z"})
    assert write.status_code == 503
    assert write.headers["Retry-After"] == "60"
    assert write.json()["detail"].startswith("maintenance: moving to PostgreSQL")

    read = client.get("/rooms")
    assert read.status_code == 200 and read.json() == [room]
    assert read.headers["X-Maintenance"] == "moving to PostgreSQL %E2%80%94 back at 14:00"
    assert client.get("/status").json() == {"maintenance": True,
                                            "message": "moving to PostgreSQL — back at 14:00"}
    login = client.post("/auth/login", json={"email": USER_EMAIL, "password": USER_PASSWORD})
    assert login.status_code == 200
    assert client.get("/auth/me", headers=bearer(login.json())).status_code == 200

    set_maintenance(engine, False)
    after = client.post("/bookings", headers=user_headers, json={
        "room_id": room["id"], "title": "t", "starts_at": "2030-01-01T10:00:00Z",
        "ends_at": "2030-01-01T11:00:00Z"})
    assert after.status_code == 201
    assert "x-maintenance" not in after.headers


def test_two_api_processes_both_see_the_flag(migrated_url, engine, tmp_path):
    """Two real uvicorn processes (two engines, two caches) and a third engine flipping the flag."""
    env = api_env(migrated_url, tmp_path / "uploads", MAINTENANCE_CACHE_SECONDS="0")
    with run_api(env) as first, run_api(env) as second:
        for base in (first, second):
            assert httpx.post(f"{base}/rooms", json={}).status_code == 401  # not frozen
        set_maintenance(engine, True, "cutover")
        for base in (first, second):
            frozen = httpx.post(f"{base}/rooms", json={})
            assert frozen.status_code == 503
            assert frozen.headers["retry-after"] == "60"
            assert httpx.get(f"{base}/status").json() == {"maintenance": True,
                                                          "message": "cutover"}
            assert httpx.get(f"{base}/rooms").headers["x-maintenance"] == "cutover"
        set_maintenance(engine, False)
        for base in (first, second):
            assert httpx.post(f"{base}/rooms", json={}).status_code == 401
