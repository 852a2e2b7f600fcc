"""Two uvicorn processes on one PostgreSQL: messages cross workers through LISTEN/NOTIFY in
order and exactly once, typing crosses too, and a user's newer socket on one worker replaces the
older one on the other."""

from __future__ import annotations

import contextlib

import pytest
from helpers import api_env, run_api
from realtime_support import (
    close_of,
    create_thread,
    joined,
    next_frame,
    pair_in_thread,
    send,
)

pytestmark = pytest.mark.requires_pg

MESSAGES = 30


@pytest.fixture(scope="module")
def workers(chat_db_url: str, tmp_path_factory) -> tuple[str, str]:
    env = api_env(chat_db_url, tmp_path_factory.mktemp("uploads"))
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(run_api(env)), stack.enter_context(run_api(env))


def _messages_until(ws, sentinel: str) -> list[dict]:
    """Message frames up to and including the one whose body is ``sentinel``."""
    received = []
    while not received or received[-1]["message"]["body"] != sentinel:
        frame = next_frame(ws)
        assert frame["type"] == "message", frame
        received.append(frame)
    return received


def test_messages_cross_workers_in_order_exactly_once(workers, seed) -> None:
    with pair_in_thread(seed, *workers) as pair:
        for number in range(MESSAGES):
            send(pair.alice_ws, type="send", thread_id=pair.thread_id, body=f"m{number}",
                 client_ref=f"r{number}")
        bob_got = _messages_until(pair.bob_ws, f"m{MESSAGES - 1}")
        send(pair.bob_ws, type="send", thread_id=pair.thread_id, body="done")  # after alice's
        bob_got += _messages_until(pair.bob_ws, "done")
        alice_got = _messages_until(pair.alice_ws, "done")

    for frames in (bob_got, alice_got):
        bodies = [f["message"]["body"] for f in frames]
        assert bodies == [f"m{n}" for n in range(MESSAGES)] + ["done"]
        ids = [f["message"]["id"] for f in frames]
        assert ids == sorted(set(ids))  # strictly increasing: no duplicates, none reordered
    assert [f.get("client_ref") for f in alice_got[:-1]] == [f"r{n}" for n in range(MESSAGES)]
    assert all("client_ref" not in f for f in bob_got[:-1])


def test_typing_crosses_workers(workers, seed) -> None:
    with pair_in_thread(seed, *workers) as pair:
        send(pair.bob_ws, type="typing", thread_id=pair.thread_id)
        assert next_frame(pair.alice_ws) == {"type": "typing", "thread_id": pair.thread_id,
                                             "user_id": pair.bob.id}


def test_newer_socket_on_another_worker_replaces_the_older(workers, seed) -> None:
    first, second = workers
    alice, bob = seed.user("alice"), seed.user("bob")
    thread_id = create_thread(first, alice, bob)
    with joined(first, alice) as (old_ws, _):
        with joined(second, alice) as (new_ws, _), joined(first, bob) as (bob_ws, _):
            assert close_of(old_ws) == (4000, "replaced")
            send(bob_ws, type="send", thread_id=thread_id, body="to the new tab")
            assert next_frame(new_ws)["message"]["body"] == "to the new tab"


@pytest.fixture(scope="module")
def short_cache_workers(chat_db_url: str, tmp_path_factory) -> tuple[str, str]:
    """Two workers whose token cache keeps an entry 3 s (the deferred announcement's wait)."""
    env = api_env(chat_db_url, tmp_path_factory.mktemp("uploads"), WS_TOKEN_CACHE_SECONDS="3")
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(run_api(env)), stack.enter_context(run_api(env))


def test_newer_socket_of_a_cached_token_replaces_the_older_on_the_other_worker(
        short_cache_workers, seed) -> None:
    """The token is cached on both workers and the other worker announced a socket since: the
    newer socket costs no statement at once, its announcement goes with the lookup renewing the
    token's entry, and then the older socket on the other worker closes."""
    first, second = short_cache_workers
    alice = seed.user("alice")
    with joined(first, alice):
        pass  # the token is cached on the first worker (this socket was announced)
    with joined(second, alice) as (old_ws, _):  # cached on the second, announced to the first
        with joined(first, alice) as (new_ws, _):
            assert close_of(old_ws) == (4000, "replaced")
            send(new_ws, type="subscribe")
            assert next_frame(new_ws)["type"] == "ready"
