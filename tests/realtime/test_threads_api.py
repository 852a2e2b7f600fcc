"""Chat REST (/threads) against a real uvicorn, on both backends."""

from __future__ import annotations

import httpx
from realtime_support import create_thread, joined, next_frame, send


def test_create_and_list_threads(api, seed) -> None:
    alice, bob, carol = seed.user("alice"), seed.user("bob"), seed.user("carol")
    response = httpx.post(f"{api}/threads", headers=bob.headers,
                          json={"title": "Room 4 move", "member_ids": [alice.id, alice.id]})
    assert response.status_code == 201
    created = response.json()
    assert created == {"id": created["id"], "title": "Room 4 move",
                       "member_ids": sorted([alice.id, bob.id])}
    for user in (alice, bob):
        listed = httpx.get(f"{api}/threads", headers=user.headers).json()
        assert listed == [created]
    assert httpx.get(f"{api}/threads", headers=carol.headers).json() == []


def test_thread_with_unknown_member_is_404_and_not_created(api, seed) -> None:
    alice = seed.user("alice")
    response = httpx.post(f"{api}/threads", headers=alice.headers,
                          json={"title": "x", "member_ids": [2_000_000_000]})
    assert response.status_code == 404
    assert "2000000000" in response.json()["detail"]
    assert httpx.get(f"{api}/threads", headers=alice.headers).json() == []


def test_bad_thread_input_is_422_and_no_token_is_401(api, seed) -> None:
    alice = seed.user("alice")
    for body in ({"title": ""}, {"title": "x", "member_ids": [0]}, {"title": "nul\x00"},
                 {"title": "x", "member_ids": list(range(1, 300))}, {"member_ids": []}):
        response = httpx.post(f"{api}/threads", headers=alice.headers, json=body)
        assert response.status_code == 422, (body, response.text)
    response = httpx.get(f"{api}/threads")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_messages_page_by_after_id_and_only_for_members(api, seed) -> None:
    alice, bob = seed.user("alice"), seed.user("bob")
    thread_id = create_thread(api, alice)
    with joined(api, alice) as (ws, _):
        for number in range(5):
            send(ws, type="send", thread_id=thread_id, body=f"m{number}")
        ids = [next_frame(ws)["message"]["id"] for _ in range(5)]
    url = f"{api}/threads/{thread_id}/messages"
    first = httpx.get(url, headers=alice.headers, params={"limit": 2}).json()
    assert [m["body"] for m in first] == ["m0", "m1"]
    rest = httpx.get(url, headers=alice.headers, params={"after_id": first[-1]["id"]}).json()
    assert [m["id"] for m in rest] == ids[2:]
    assert httpx.get(url, headers=bob.headers).status_code == 404
    assert httpx.get(f"{api}/threads/2000000000/messages",
                     headers=alice.headers).status_code == 404
    assert httpx.get(url, headers=alice.headers, params={"limit": 0}).status_code == 422
