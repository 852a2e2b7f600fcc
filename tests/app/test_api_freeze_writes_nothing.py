"""The freeze writes nothing: every table's rows and content are the same before and after mixed
traffic against a frozen API (two uvicorn workers; logins, refreshes, logouts, every write route,
chat frames). Sign-in keeps working in the window, and a session begun there survives the move.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from api_client import ADMIN_EMAIL, ADMIN_PASSWORD, USER_EMAIL, USER_PASSWORD
from helpers import PROJECT_ROOT, api_env, run_api, upgrade_schema
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from table_digest import table_digests
from websockets.sync.client import connect

from app.crud.users import create_user
from app.maintenance import set_maintenance
from foundation.database_urls import sqlalchemy_url

MIGRATE_SCRIPT = PROJECT_ROOT / "scripts" / "migrate_sqlite_to_pg.sh"
CLIENTS = 3
ROUNDS = 3
TIMEOUT_S = 20.0
WINDOW = {"starts_at": "2031-03-01T10:00:00Z", "ends_at": "2031-03-01T11:00:00Z"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(base: str, path: str, **kwargs) -> httpx.Response:
    """One request on a connection of its own, so the traffic spreads over both workers."""
    return httpx.post(f"{base}{path}", timeout=TIMEOUT_S, **kwargs)


def login(base: str, email: str, password: str) -> dict:
    response = post(base, "/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


@dataclass(frozen=True)
class World:
    """What exists before the freeze (made through the API)."""

    tokens: dict  # alice's live pair
    used_refresh: str  # a refresh token of alice's already rotated
    booking_id: int
    room_id: int
    thread_id: int
    message_id: int
    upload_id: int


def build_world(base: str) -> World:
    admin = login(base, ADMIN_EMAIL, ADMIN_PASSWORD)
    room = post(base, "/rooms", headers=bearer(admin["access_token"]),
                json={"name": "Freeze", "capacity": 4, "hourly_rate": "10.00"}).json()
    first = login(base, USER_EMAIL, USER_PASSWORD)
    tokens = post(base, "/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    auth = bearer(tokens["access_token"])
    booking = post(base, "/bookings", headers=auth, json={"room_id": room["id"], "title": "b",
                                                          **WINDOW}).json()
    thread = post(base, "/threads", headers=auth, json={"title": "t", "member_ids": []}).json()
    upload = post(base, "/uploads", headers=auth, files={"file": ("a.txt", b"abc")}).json()
    with connect(f"{base.replace('http', 'ws')}/ws?token={tokens['access_token']}",
                 open_timeout=TIMEOUT_S) as ws:
        json.loads(ws.recv(timeout=TIMEOUT_S))  # ready
        ws.send(json.dumps({"type": "send", "thread_id": thread["id"], "body": "before"}))
        message = json.loads(ws.recv(timeout=TIMEOUT_S))["message"]
    return World(tokens, first["refresh_token"], booking["id"], room["id"], thread["id"],
                 message["id"], upload["id"])


def http_round(base: str, world: World) -> list[tuple[str, int, int, str | None]]:
    """Every kind of request once while frozen: (what, expected, got, Retry-After)."""
    auth = bearer(world.tokens["access_token"])
    signed_in = post(base, "/auth/login", json={"email": USER_EMAIL, "password": USER_PASSWORD})
    frozen_refresh = signed_in.json().get("refresh_token", "")
    answers = {
        "login": (200, signed_in),
        "refresh (token from before)": (200, post(base, "/auth/refresh", json={
            "refresh_token": world.tokens["refresh_token"]})),
        "refresh (token from the window)": (200, post(base, "/auth/refresh", json={
            "refresh_token": frozen_refresh})),
        "refresh (reused token: revoking is a write)": (503, post(base, "/auth/refresh", json={
            "refresh_token": world.used_refresh})),
        "logout": (503, post(base, "/auth/logout", json={
            "refresh_token": world.tokens["refresh_token"]})),
        "create booking": (503, post(base, "/bookings", headers=auth, json={
            "room_id": world.room_id, "title": "x", "starts_at": "2032-01-01T10:00:00Z",
            "ends_at": "2032-01-01T11:00:00Z"})),
        "change booking": (503, httpx.patch(f"{base}/bookings/{world.booking_id}", headers=auth,
                                            json={"title": "y"}, timeout=TIMEOUT_S)),
        "cancel booking": (503, post(base, f"/bookings/{world.booking_id}/cancel", headers=auth)),
        "create room": (503, post(base, "/rooms", headers=auth, json={
            "name": "r", "capacity": 1, "hourly_rate": "1.00"})),
        "create thread": (503, post(base, "/threads", headers=auth, json={"title": "t"})),
        "upload": (503, post(base, "/uploads", headers=auth, files={"file": ("b.txt", b"b")})),
    }
    for path in ("/auth/me", "/rooms", "/bookings", "/threads", "/status",
                 f"/threads/{world.thread_id}/messages", f"/uploads/{world.upload_id}/content"):
        answers[f"GET {path}"] = (200, httpx.get(f"{base}{path}", headers=auth,
                                                 timeout=TIMEOUT_S))
    return [(what, expected, got.status_code, got.headers.get("retry-after"))
            for what, (expected, got) in answers.items()]


def socket_round(base: str, world: World) -> list[dict]:
    """Send, read marker, typing and subscribe frames on a socket while frozen."""
    url = f"{base.replace('http', 'ws')}/ws?token={world.tokens['access_token']}"
    with connect(url, open_timeout=TIMEOUT_S) as ws:
        frames = [json.loads(ws.recv(timeout=TIMEOUT_S))]
        for frame in ({"type": "send", "thread_id": world.thread_id, "body": "frozen?"},
                      {"type": "read", "thread_id": world.thread_id,
                       "message_id": world.message_id},
                      {"type": "typing", "thread_id": world.thread_id},
                      {"type": "subscribe"}):
            ws.send(json.dumps(frame))
        frames += [json.loads(ws.recv(timeout=TIMEOUT_S)) for _ in range(3)]
    return frames


@pytest.fixture
def users(make_user) -> None:
    make_user(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    make_user(USER_EMAIL, USER_PASSWORD)


def test_a_frozen_api_writes_no_row_under_mixed_traffic(migrated_url, engine, users, tmp_path):
    upload_dir = tmp_path / "uploads"
    env = api_env(migrated_url, upload_dir, MAINTENANCE_CACHE_SECONDS="0")
    with run_api(env, workers=2) as base:
        world = build_world(base)
        set_maintenance(engine, True, "moving house")
        before, files_before = table_digests(engine), sorted(upload_dir.iterdir())

        with ThreadPoolExecutor(CLIENTS + 1) as pool:
            http = [pool.submit(http_round, base, world) for _ in range(CLIENTS * ROUNDS)]
            # one user's sockets one after another: a newer one would replace the older (4000)
            sockets = pool.submit(lambda: [socket_round(base, world) for _ in range(ROUNDS)])
            answers = [answer for future in http for answer in future.result()]
            frames = sockets.result()

        assert table_digests(engine) == before
        assert sorted(upload_dir.iterdir()) == files_before
        wrong = {(what, expected, got) for what, expected, got, _ in answers if got != expected}
        assert not wrong, wrong
        assert all(retry == "60" for _, expected, _, retry in answers if expected == 503)
        for ready, sent, read, subscribed in frames:
            assert ready["type"] == "ready" and subscribed["type"] == "ready"
            assert sent == read == {"type": "error", "status": 503,
                                    "detail": "maintenance: moving house"}

        set_maintenance(engine, False)
        assert post(base, "/auth/logout", json={
            "refresh_token": world.tokens["refresh_token"]}).status_code == 204


def test_a_session_begun_in_the_window_lives_on_after_it(migrated_url, engine, users,
                                                         tmp_path):
    env = api_env(migrated_url, tmp_path / "uploads", MAINTENANCE_CACHE_SECONDS="0")
    with run_api(env) as base:
        set_maintenance(engine, True, "moving house")
        in_window = login(base, USER_EMAIL, USER_PASSWORD)
        refreshed = post(base, "/auth/refresh", json={
            "refresh_token": in_window["refresh_token"]}).json()
        assert refreshed["refresh_token"] == in_window["refresh_token"]  # not rotated
        assert httpx.get(f"{base}/auth/me",
                         headers=bearer(refreshed["access_token"])).status_code == 200

        set_maintenance(engine, False)
        rotated = post(base, "/auth/refresh", json={"refresh_token": in_window["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["refresh_token"] != in_window["refresh_token"]
        again = post(base, "/auth/refresh", json={"refresh_token": in_window["refresh_token"]})
        assert again.status_code == 401 and "reused" in again.json()["detail"]
        revoked = post(base, "/auth/refresh", json={
            "refresh_token": rotated.json()["refresh_token"]})
        assert revoked.status_code == 401  # the reuse revoked the whole session


def test_a_forged_window_token_is_refused(migrated_url, engine, users, tmp_path):
    env = api_env(migrated_url, tmp_path / "uploads", MAINTENANCE_CACHE_SECONDS="0")
    with run_api(env) as base:
        set_maintenance(engine, True)
        token = login(base, USER_EMAIL, USER_PASSWORD)["refresh_token"]
        header, claims, signature = token.split(".")
        forged = f"{header}.{claims}.{signature[::-1]}"
        assert post(base, "/auth/refresh", json={"refresh_token": forged}).status_code == 401
        set_maintenance(engine, False)
        assert post(base, "/auth/refresh", json={"refresh_token": forged}).status_code == 401
        assert post(base, "/auth/logout", json={"refresh_token": forged}).status_code == 204
        assert post(base, "/auth/refresh", json={"refresh_token": token}).status_code == 200


@pytest.mark.requires_pg
def test_a_session_begun_in_the_window_survives_the_flip_to_postgres(tmp_path, pg_url,
                                                                     monkeypatch):
    """SQLite API frozen → login → the real migration → API on PostgreSQL → the session lives."""
    sqlite_url = f"sqlite:///{tmp_path / 'booking.db'}"
    upgrade_schema(sqlite_url)
    sqlite_engine = create_engine(sqlite_url)
    with Session(sqlite_engine) as session:
        create_user(session, email=USER_EMAIL, name="alice", password=USER_PASSWORD)
    with run_api(api_env(sqlite_url, tmp_path / "uploads",
                         MAINTENANCE_CACHE_SECONDS="0")) as base:
        set_maintenance(sqlite_engine, True, "moving house")
        in_window = login(base, USER_EMAIL, USER_PASSWORD)
    sqlite_engine.dispose()

    pg_sqlalchemy_url = sqlalchemy_url(pg_url)
    upgrade_schema(pg_sqlalchemy_url)
    moved = subprocess.run([str(MIGRATE_SCRIPT), "--sqlite", str(tmp_path / "booking.db"),
                            "--pg", pg_url, "--engine", "copy", "--yes", "--quiet"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=240)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    pg_engine = create_engine(pg_sqlalchemy_url)
    try:
        with run_api(api_env(pg_sqlalchemy_url, tmp_path / "uploads",
                             MAINTENANCE_CACHE_SECONDS="0")) as base:
            still_frozen = post(base, "/auth/refresh", json={
                "refresh_token": in_window["refresh_token"]})
            assert still_frozen.status_code == 200, still_frozen.text
            set_maintenance(pg_engine, False)
            rotated = post(base, "/auth/refresh", json={
                "refresh_token": in_window["refresh_token"]})
            assert rotated.status_code == 200, rotated.text
            assert httpx.get(f"{base}/auth/me", headers=bearer(
                rotated.json()["access_token"])).json()["email"] == USER_EMAIL
    finally:
        pg_engine.dispose()
