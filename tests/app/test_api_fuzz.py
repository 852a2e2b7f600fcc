"""Schemathesis fuzz of the OpenAPI spec, authenticated as a real administrator: no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from api_client import ADMIN_EMAIL, ADMIN_PASSWORD
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.main import create_app

EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def fuzzed_app(settings, make_user):
    make_user(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    return create_app(settings, db_wait_seconds=5)


@pytest.fixture
def fuzz_headers(fuzzed_app) -> dict[str, str]:
    """A real token, and one room and booking so that some generated ids exist."""
    client = TestClient(fuzzed_app)  # no lifespan here: schemathesis runs the app itself
    tokens = client.post("/auth/login", json={"email": ADMIN_EMAIL,
                                              "password": ADMIN_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    room = client.post("/rooms", headers=headers,
                       json={"name": "Fuzz", "capacity": 3, "hourly_rate": "1.00"}).json()
    client.post("/bookings", headers=headers, json={
        "room_id": room["id"], "title": "seed", "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-01T01:00:00Z"})
    return headers


@pytest.fixture
def api_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzz_headers):
    case.call_and_validate(headers=fuzz_headers, checks=[not_a_server_error])
