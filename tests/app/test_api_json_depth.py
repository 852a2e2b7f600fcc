"""JSON bodies nested past MAX_JSON_DEPTH answer 400 with a clear message (never a 500), on a
real uvicorn; nesting within the limit is stored as sent."""

from __future__ import annotations

import httpx
import pytest
from api_client import ADMIN_EMAIL, ADMIN_PASSWORD
from helpers import api_env, run_api

from app.json_depth import MAX_JSON_DEPTH


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def api(migrated_url, make_user, tmp_path):
    make_user(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    with run_api(api_env(migrated_url, tmp_path / "uploads")) as base:
        yield base


def admin_headers(base: str) -> dict[str, str]:
    tokens = httpx.post(f"{base}/auth/login",
                        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    return {"Authorization": f"Bearer {tokens['access_token']}",
            "Content-Type": "application/json"}


@pytest.mark.parametrize("body", [
    nested(30000),
    '{"name": "Deep", "capacity": 2, "hourly_rate": "1.00", "features": {"a": '
    + nested(900) + "}}",
    '{"name": "Deep", "capacity": 2, "hourly_rate": "1.00", "features": {"a": '
    + nested(MAX_JSON_DEPTH - 1) + "}}",  # 33 levels with the two objects
], ids=["30000-deep", "900-deep-features", "one-past-the-limit"])
def test_a_deeply_nested_body_is_refused_with_400(api, body):
    answer = httpx.post(f"{api}/rooms", content=body, headers=admin_headers(api))
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    assert httpx.get(f"{api}/rooms").json() == []


def test_brackets_inside_strings_do_not_count(api):
    features = {"note": "[" * 100 + "{" * 100, "list": [[["ok"]]]}
    answer = httpx.post(f"{api}/rooms", headers=admin_headers(api), json={
        "name": "Shallow", "capacity": 2, "hourly_rate": "1.00", "features": features})
    assert answer.status_code == 201, answer.text
    assert answer.json()["features"] == features
