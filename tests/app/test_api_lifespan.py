"""The same app object can be started twice (a restart in-process, as tests and reloads do)."""

from __future__ import annotations

from api_client import USER_EMAIL, USER_PASSWORD, login
from fastapi.testclient import TestClient

from app.db import database
from app.main import create_app


def test_realtime_works_after_a_second_lifespan(settings, make_user) -> None:
    make_user(USER_EMAIL, USER_PASSWORD)
    app = create_app(settings, db_wait_seconds=5)
    for _ in range(2):
        with TestClient(app) as client:
            token = login(client, USER_EMAIL, USER_PASSWORD)["access_token"]
            with client.websocket_connect(f"/ws?token={token}") as socket:
                assert socket.receive_json()["type"] == "ready"
        database.reset()
