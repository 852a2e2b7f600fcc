"""Concurrent requests for the same slot against real uvicorn processes: exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from api_client import ADMIN_EMAIL, ADMIN_PASSWORD, USER_EMAIL, USER_PASSWORD
from helpers import api_env, run_api

CONTENDERS = 20


def _token(base: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{base}/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_twenty_requests_for_one_slot_yield_one_booking(migrated_url, make_user, tmp_path):
    make_user(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    make_user(USER_EMAIL, USER_PASSWORD)
    env = api_env(migrated_url, tmp_path / "uploads")
    with run_api(env) as first, run_api(env) as second:
        admin = _token(first, ADMIN_EMAIL, ADMIN_PASSWORD)
        room = httpx.post(f"{first}/rooms", headers=admin,
                          json={"name": "Contested", "capacity": 2, "hourly_rate": "5"}).json()
        user = _token(first, USER_EMAIL, USER_PASSWORD)
        start = threading.Barrier(CONTENDERS)

        def contend(index: int) -> int:
            base = (first, second)[index % 2]
            with httpx.Client(base_url=base, headers=user, timeout=60) as client:
                start.wait()
                return client.post("/bookings", json={
                    "room_id": room["id"], "title": f"attempt {index}",
                    "starts_at": "2031-03-03T09:00:00+01:00",
                    "ends_at": "2031-03-03T10:00:00+01:00"}).status_code

        with ThreadPoolExecutor(CONTENDERS) as pool:
            statuses = list(pool.map(contend, range(CONTENDERS)))
        assert sorted(statuses) == [201] + [409] * (CONTENDERS - 1), statuses
        stored = httpx.get(f"{first}/bookings", headers=admin).json()
        assert len(stored) == 1
