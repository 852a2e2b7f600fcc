"""The chat socket against a real uvicorn and a real WebSocket client, on both backends."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from realtime_support import (
    close_of,
    create_thread,
    joined,
    next_frame,
    open_socket,
    pair_in_thread,
    send,
    token_for,
)
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.maintenance import set_maintenance
from app.models import ChatMessage, ThreadMember
from app.realtime.protocol import MAX_BODY_CHARS


def _message_of(frame: dict) -> dict:
    assert frame["type"] == "message", frame
    return frame["message"]


@pytest.mark.parametrize("token", ["", "not-a-jwt", token_for(1, now=dt.datetime(2020, 1, 1)),
                                   token_for(2_000_000_000)],
                         ids=["missing", "garbage", "expired", "unknown-user"])
def test_bad_token_is_closed_with_4401(api: str, token: str) -> None:
    with open_socket(api, token) as ws:
        code, reason = close_of(ws)
    assert (code, reason) == (4401, "invalid or expired token")


def test_message_reaches_every_member_once_with_client_ref_for_sender(api, seed) -> None:
    alice, bob, carol = seed.user("alice"), seed.user("bob"), seed.user("carol")
    thread_id = create_thread(api, alice, bob)
    with joined(api, alice) as (alice_ws, _), joined(api, bob) as (bob_ws, _), \
            joined(api, carol) as (carol_ws, _):
        send(alice_ws, type="send", thread_id=thread_id, body="hello ünïcode ✓",
             client_ref="c-1")
        mine, theirs = next_frame(alice_ws), next_frame(bob_ws)
        assert mine["client_ref"] == "c-1" and "client_ref" not in theirs
        assert _message_of(mine) == _message_of(theirs)
        message = _message_of(theirs)
        assert (message["thread_id"], message["sender_id"], message["body"],
                message["reply_to_id"]) == (thread_id, alice.id, "hello ünïcode ✓", None)
        assert dt.datetime.fromisoformat(message["created_at"]).utcoffset() == dt.timedelta(0)

        send(bob_ws, type="send", thread_id=thread_id, body="re", reply_to_id=message["id"])
        reply = _message_of(next_frame(alice_ws))
        assert reply["reply_to_id"] == message["id"] and reply["id"] > message["id"]
        assert _message_of(next_frame(bob_ws)) == reply

        # carol is in no thread: the first frame she sees is her own error, nothing of theirs
        send(carol_ws, type="typing", thread_id=thread_id)
        assert next_frame(carol_ws)["type"] == "error"

    stored = httpx.get(f"{api}/threads/{thread_id}/messages", headers=bob.headers).json()
    assert [m["id"] for m in stored] == [message["id"], reply["id"]]


def test_a_message_reusing_a_deleted_messages_id_is_still_delivered(api, seed,
                                                                     backend) -> None:
    """SQLite gives a deleted row's id to the next row: the worker's memory of delivered
    messages must not take the new message for the deleted one (the smoke test deletes what
    it sent, then the next smoke test's echo went missing)."""
    alice = seed.user("alice")
    thread_id = create_thread(api, alice)
    with joined(api, alice) as (ws, _):
        send(ws, type="send", thread_id=thread_id, body="first", client_ref="a")
        first = _message_of(next_frame(ws))
        with Session(seed.engine) as session:
            session.execute(delete(ChatMessage).where(ChatMessage.id == first["id"]))
            session.commit()
        send(ws, type="send", thread_id=thread_id, body="second", client_ref="b")
        second = next_frame(ws)
    assert second["client_ref"] == "b" and _message_of(second)["body"] == "second"
    if backend == "sqlite":  # the case this test is about (PostgreSQL never reuses an id)
        assert _message_of(second)["id"] == first["id"]


def test_bad_frames_get_an_error_and_the_socket_stays_open(api, seed) -> None:
    alice, bob = seed.user("alice"), seed.user("bob")
    thread_id = create_thread(api, alice)
    other_thread = create_thread(api, bob)
    with joined(api, bob) as (bob_ws, _):
        send(bob_ws, type="send", thread_id=other_thread, body="not for alice")
        foreign_message_id = _message_of(next_frame(bob_ws))["id"]
    send_to = {"type": "send", "thread_id": thread_id}
    bad_frames = [
        ("not json", "valid JSON"),
        ("[1, 2]", "JSON object"),
        ("{" + " " * 70_000 + "}", "longer than"),
        ({"type": "shout"}, "unknown frame type"),
        (send_to, "body"),
        ({**send_to, "body": ""}, "body"),
        ({**send_to, "thread_id": str(thread_id), "body": "x"}, "thread_id"),
        ({**send_to, "body": "x" * (MAX_BODY_CHARS + 1)}, "body"),
        ({**send_to, "body": "nul\x00"}, "NUL"),
        ({**send_to, "body": "x", "extra": 1}, "extra"),
        ({**send_to, "thread_id": other_thread, "body": "x"}, "not a member"),
        ({**send_to, "body": "x", "reply_to_id": foreign_message_id}, "not a message of thread"),
        ({"type": "read", "thread_id": thread_id, "message_id": foreign_message_id},
         "not in thread"),
        ({"type": "typing", "thread_id": 0}, "thread_id"),
    ]
    with joined(api, alice) as (ws, _):
        for bad, expected in bad_frames:
            ws.send(bad if isinstance(bad, str) else json.dumps(bad))
            frame = next_frame(ws)
            assert frame["type"] == "error" and expected in frame["detail"], (bad, frame)
        ws.send(b"\x00binary")
        assert "binary" in next_frame(ws)["detail"]
        send(ws, type="send", thread_id=thread_id, body="still here")
        assert _message_of(next_frame(ws))["body"] == "still here"


def test_typing_and_read_reach_the_other_members_only(api, seed) -> None:
    with pair_in_thread(seed, api) as pair:
        thread_id, alice_ws, bob_ws = pair.thread_id, pair.alice_ws, pair.bob_ws
        send(alice_ws, type="typing", thread_id=thread_id)
        assert next_frame(bob_ws) == {"type": "typing", "thread_id": thread_id,
                                      "user_id": pair.alice.id}
        send(alice_ws, type="send", thread_id=thread_id, body="first")
        message_id = _message_of(next_frame(alice_ws))["id"]  # not her own typing event
        assert _message_of(next_frame(bob_ws))["id"] == message_id

        send(bob_ws, type="read", thread_id=thread_id, message_id=message_id)
        assert next_frame(alice_ws) == {"type": "read", "thread_id": thread_id,
                                        "user_id": pair.bob.id, "message_id": message_id}
        send(bob_ws, type="send", thread_id=thread_id, body="after read")
        assert _message_of(next_frame(bob_ws))["body"] == "after read"  # no echo of his read
    with Session(seed.engine) as session:
        marker = session.scalar(select(ThreadMember.last_read_message_id).where(
            ThreadMember.thread_id == thread_id, ThreadMember.user_id == pair.bob.id))
    assert marker == message_id


def test_second_socket_of_a_user_replaces_the_first(api, seed) -> None:
    alice = seed.user("alice")
    thread_id = create_thread(api, alice)
    with joined(api, alice) as (first, _), joined(api, alice) as (second, _):
        assert close_of(first) == (4000, "replaced")
        send(second, type="send", thread_id=thread_id, body="from the new tab")
        assert _message_of(next_frame(second))["body"] == "from the new tab"


def test_new_thread_is_heard_by_open_sockets_and_subscribe_refreshes(api, seed) -> None:
    alice, bob = seed.user("alice"), seed.user("bob")
    with joined(api, alice) as (alice_ws, _), joined(api, bob) as (bob_ws, _):
        thread_id = create_thread(api, alice, bob, title="later")
        send(alice_ws, type="subscribe")
        assert next_frame(alice_ws) == {"type": "ready", "user_id": alice.id,
                                        "thread_ids": [thread_id]}
        send(alice_ws, type="send", thread_id=thread_id, body="new thread")
        assert _message_of(next_frame(bob_ws))["body"] == "new thread"  # bob never subscribed
    # reconnects right after (tokens cached before the thread existed) list the new thread
    with joined(api, alice) as (_, alice_ready), joined(api, bob) as (_, bob_ready):
        assert alice_ready["thread_ids"] == bob_ready["thread_ids"] == [thread_id]


def test_maintenance_answers_sends_with_503_and_keeps_the_socket(api, seed) -> None:
    alice, bob = seed.user("alice"), seed.user("bob")
    thread_id = create_thread(api, alice, bob)
    with joined(api, alice) as (ws, _):
        set_maintenance(seed.engine, True, "moving to PostgreSQL")
        try:
            send(ws, type="send", thread_id=thread_id, body="frozen?", client_ref="r1")
            assert next_frame(ws) == {"type": "error", "status": 503, "client_ref": "r1",
                                      "detail": "maintenance: moving to PostgreSQL"}
            send(ws, type="typing", thread_id=thread_id)  # no write: still allowed
            send(ws, type="subscribe")
            assert next_frame(ws)["type"] == "ready"
        finally:
            set_maintenance(seed.engine, False)
        send(ws, type="send", thread_id=thread_id, body="thawed")
        assert _message_of(next_frame(ws))["body"] == "thawed"
    messages = httpx.get(f"{api}/threads/{thread_id}/messages", headers=alice.headers).json()
    assert [m["body"] for m in messages] == ["thawed"]
