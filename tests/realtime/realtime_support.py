"""Test helpers for the chat: seeded users with tokens, REST calls, and a real WebSocket client.

Waiting for a frame has a generous hang guard (RECV_TIMEOUT_S), never a speed assertion.
"Nothing else arrived" is shown by order, not by waiting: a later sentinel frame must be next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from helpers import TEST_SECRET_KEY
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from app.models import User
from app.security import create_access_token
from app.settings import load_settings

RECV_TIMEOUT_S = 20.0
TOKEN_SETTINGS = load_settings(secret_key=TEST_SECRET_KEY, environment="test")
# One argon2 hash for every seeded user: the chat tests never log in with a password.
_PASSWORD_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$fET/6bYvmjH6/vfoCaCDzA$"
                  "kzcG1RqcdA6/zVvvA8qk8VcCVFbvWzO7dDHmIxaGihY")
_numbers = itertools.count(1)


@dataclass(frozen=True)
class ChatUser:
    id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Seeder:
    """Users straight into the test database (an engine of the test's own)."""

    def __init__(self, db_url: str) -> None:
        self.engine: Engine = create_engine(db_url)

    def user(self, name: str = "user") -> ChatUser:
        email = f"{name}-{next(_numbers)}@chat.test"
        with Session(self.engine) as session:
            user = User(email=email, name=name, password_hash=_PASSWORD_HASH)
            session.add(user)
            session.commit()
            user_id = user.id
        return ChatUser(user_id, email, token_for(user_id))

    def close(self) -> None:
        self.engine.dispose()


def token_for(user_id: int, *, now: dt.datetime | None = None) -> str:
    return create_access_token(user_id, TOKEN_SETTINGS, now=now)


def create_thread(base_url: str, owner: ChatUser, *members: ChatUser, title: str = "t") -> int:
    response = httpx.post(f"{base_url}/threads", headers=owner.headers,
                          json={"title": title, "member_ids": [m.id for m in members]})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def ws_url(base_url: str, token: str) -> str:
    return base_url.replace("http://", "ws://") + f"/ws?token={token}"


def open_socket(base_url: str, token: str) -> ClientConnection:
    return connect(ws_url(base_url, token), open_timeout=RECV_TIMEOUT_S)


def next_frame(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=RECV_TIMEOUT_S))


@contextlib.contextmanager
def joined(base_url: str, user: ChatUser) -> Iterator[tuple[ClientConnection, dict[str, Any]]]:
    """A socket of ``user`` and its ``ready`` frame; closed on exit."""
    with open_socket(base_url, user.token) as ws:
        ready = next_frame(ws)
        assert ready["type"] == "ready", ready
        yield ws, ready


@dataclass(frozen=True)
class Pair:
    """Alice and Bob in one thread, each with an open socket (``ready`` already read)."""

    alice: ChatUser
    bob: ChatUser
    thread_id: int
    alice_ws: ClientConnection
    bob_ws: ClientConnection


@contextlib.contextmanager
def pair_in_thread(seed: Seeder, alice_api: str, bob_api: str | None = None) -> Iterator[Pair]:
    """Two new users sharing a thread, on ``alice_api`` and ``bob_api`` (default: the same)."""
    alice, bob = seed.user("alice"), seed.user("bob")
    thread_id = create_thread(alice_api, alice, bob)
    with joined(alice_api, alice) as (alice_ws, _), \
            joined(bob_api or alice_api, bob) as (bob_ws, _):
        yield Pair(alice, bob, thread_id, alice_ws, bob_ws)


def send(ws: ClientConnection, **frame: Any) -> None:
    ws.send(json.dumps(frame))


def close_of(ws: ClientConnection) -> tuple[int | None, str]:
    """Read until the server closes; the close code and reason it sent (None: no close frame)."""
    try:
        while True:
            ws.recv(timeout=RECV_TIMEOUT_S)
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            return None, ""
        return closed.rcvd.code, closed.rcvd.reason
