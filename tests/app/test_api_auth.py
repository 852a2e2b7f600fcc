"""Login, refresh rotation with family revocation, logout and /auth/me."""

from __future__ import annotations

import datetime as dt

from api_client import USER_EMAIL, USER_PASSWORD, bearer, login
from helpers import TEST_SECRET_KEY

from app.security import create_access_token
from app.settings import load_settings


def test_login_returns_a_token_pair_that_authenticates(client, make_user):
    user = make_user(USER_EMAIL, USER_PASSWORD)
    tokens = login(client, USER_EMAIL.upper(), USER_PASSWORD)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60
    me = client.get("/auth/me", headers=bearer(tokens))
    assert me.status_code == 200
    assert me.json() == {"id": user.id, "email": USER_EMAIL, "name": "alice", "is_admin": False}


def test_bad_credentials_are_401(client, make_user):
    make_user(USER_EMAIL, USER_PASSWORD)
    for body in ({"email": USER_EMAIL, "password": "wrong"},
                 {"email": "nobody@example.com", "password": USER_PASSWORD}):
        response = client.post("/auth/login", json=body)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_login_input_is_validated(client):
    assert client.post("/auth/login", json={"email": "x@example.com"}).status_code == 422
    assert client.post("/auth/login", json={"email": 5, "password": []}).status_code == 422
    response = client.post("/auth/login", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "json" in response.json()["detail"].lower()


def test_me_rejects_missing_bad_and_expired_tokens(client, make_user):
    user = make_user(USER_EMAIL, USER_PASSWORD)
    settings = load_settings(secret_key=TEST_SECRET_KEY)
    expired = create_access_token(user.id, settings,
                                  now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    forged = create_access_token(user.id, load_settings(secret_key="another-secret-key-0123456"))
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"},
                    {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": f"Basic {expired}"}):
        response = client.get("/auth/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_token_of_an_unknown_user_is_401(client):
    token = create_access_token(999_999, load_settings(secret_key=TEST_SECRET_KEY))
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(client, make_user):
    make_user(USER_EMAIL, USER_PASSWORD)
    first = login(client, USER_EMAIL, USER_PASSWORD)
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/auth/me", headers=bearer(second)).status_code == 200

    reused = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    # the reuse revoked the whole family: the newest token is dead too
    after = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


def test_other_logins_survive_a_revoked_family(client, make_user):
    make_user(USER_EMAIL, USER_PASSWORD)
    phone, laptop = login(client, USER_EMAIL, USER_PASSWORD), login(client, USER_EMAIL,
                                                                     USER_PASSWORD)
    client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})  # reuse
    assert client.post("/auth/refresh",
                       json={"refresh_token": laptop["refresh_token"]}).status_code == 200


def test_logout_revokes_the_refresh_token(client, make_user):
    make_user(USER_EMAIL, USER_PASSWORD)
    tokens = login(client, USER_EMAIL, USER_PASSWORD)
    assert client.post("/auth/logout",
                       json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert client.post("/auth/refresh",
                       json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    # unknown tokens: logout is still 204 (nothing to reveal), refresh is 401
    assert client.post("/auth/logout", json={"refresh_token": "nope"}).status_code == 204
    assert client.post("/auth/refresh", json={"refresh_token": "nope"}).status_code == 401
