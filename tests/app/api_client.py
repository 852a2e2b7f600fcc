"""Small helpers the API tests share: the test users' credentials, logging in, Bearer headers."""

from __future__ import annotations

from fastapi.testclient import TestClient

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "admin-password"
USER_EMAIL, USER_PASSWORD = "alice@example.com", "alice-password"
OTHER_EMAIL, OTHER_PASSWORD = "bob@example.com", "bob-password"


def login(client: TestClient, email: str, password: str) -> dict:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
