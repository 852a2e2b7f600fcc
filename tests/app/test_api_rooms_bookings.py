"""Rooms and bookings through the API: happy paths, overlaps, visibility and bad input."""

from __future__ import annotations

import pytest

SLOT = {"starts_at": "2030-05-01T09:00:00+02:00", "ends_at": "2030-05-01T10:30:00+02:00"}


def book(client, headers, room, **fields):
    return client.post("/bookings", headers=headers,
                       json={"room_id": room, "title": "Planning", **SLOT, **fields})


def test_rooms_are_listed_with_decimal_rates_and_json_features(client, room):
    rooms = client.get("/rooms").json()
    assert rooms == [room]
    assert room["hourly_rate"] == "42.50"
    assert room["features"]["note"] == "café ☕"
    assert client.get(f"/rooms/{room['id']}").json() == room
    assert client.get("/rooms/999").status_code == 404


def test_only_admins_create_rooms_and_names_are_unique(client, room, admin_headers,
                                                       user_headers):
    body = {"name": "Grace Hopper", "capacity": 4, "hourly_rate": "10"}
    assert client.post("/rooms", json=body).status_code == 401
    assert client.post("/rooms", headers=user_headers, json=body).status_code == 403
    created = client.post("/rooms", headers=admin_headers, json=body)
    assert created.status_code == 201 and created.json()["hourly_rate"] == "10.00"
    assert client.get(f"/rooms/{created.json()['id']}").json() == created.json()
    duplicate = client.post("/rooms", headers=admin_headers, json={**body, "name": room["name"]})
    assert duplicate.status_code == 409
    for bad in ({**body, "capacity": 0}, {**body, "hourly_rate": "1.234"},
                {**body, "hourly_rate": "abc"}, {**body, "name": "nul\x00byte"},
                {**body, "features": ["not", "an", "object"]}):
        assert client.post("/rooms", headers=admin_headers, json=bad).status_code == 422, bad


def test_booking_round_trip_in_utc(client, room, user_headers):
    created = book(client, user_headers, room["id"], notes="tabs\tand\nnewlines \\ 日本")
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["starts_at"].startswith("2030-05-01T07:00:00")
    assert booking["ends_at"].startswith("2030-05-01T08:30:00")
    assert booking["status"] == "active"
    assert booking["notes"] == "tabs\tand\nnewlines \\ 日本"
    assert client.get(f"/bookings/{booking['id']}", headers=user_headers).json() == booking
    assert client.get("/bookings", headers=user_headers).json() == [booking]


@pytest.mark.parametrize("window, expected", [
    (SLOT, 409),                                                                 # same slot
    ({"starts_at": "2030-05-01T07:30:00Z", "ends_at": "2030-05-01T07:45:00Z"}, 409),  # inside
    ({"starts_at": "2030-05-01T06:00:00Z", "ends_at": "2030-05-01T07:00:00Z"}, 201),  # touches
    ({"starts_at": "2030-05-01T08:30:00Z", "ends_at": "2030-05-01T09:00:00Z"}, 201),  # after
])
def test_overlaps_are_refused(client, room, user_headers, other_headers, window, expected):
    assert book(client, user_headers, room["id"]).status_code == 201
    assert book(client, other_headers, room["id"], **window).status_code == expected


def test_cancelled_bookings_free_their_slot(client, room, user_headers):
    first = book(client, user_headers, room["id"]).json()
    cancelled = client.post(f"/bookings/{first['id']}/cancel", headers=user_headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert book(client, user_headers, room["id"]).status_code == 201
    again = client.patch(f"/bookings/{first['id']}", headers=user_headers, json={"title": "x"})
    assert again.status_code == 409


def test_patch_rechecks_overlaps(client, room, user_headers):
    first = book(client, user_headers, room["id"]).json()
    later = book(client, user_headers, room["id"], starts_at="2030-05-01T12:00:00Z",
                 ends_at="2030-05-01T13:00:00Z").json()
    moved = client.patch(f"/bookings/{later['id']}", headers=user_headers,
                         json={"starts_at": "2030-05-01T08:00:00Z"})
    assert moved.status_code == 409
    renamed = client.patch(f"/bookings/{first['id']}", headers=user_headers,
                           json={"title": "Retro", "notes": None,
                                 "ends_at": "2030-05-01T09:00:00+00:00"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Retro"
    assert renamed.json()["ends_at"].startswith("2030-05-01T09:00:00")
    backwards = client.patch(f"/bookings/{first['id']}", headers=user_headers,
                             json={"starts_at": "2030-05-01T10:00:00Z"})
    assert backwards.status_code == 422


def test_other_users_bookings_are_404_but_admins_see_all(client, room, user_headers,
                                                         other_headers, admin_headers):
    mine = book(client, user_headers, room["id"]).json()
    for method, path, body in (("get", f"/bookings/{mine['id']}", None),
                               ("patch", f"/bookings/{mine['id']}", {"title": "mine now"}),
                               ("post", f"/bookings/{mine['id']}/cancel", None)):
        response = client.request(method, path, headers=other_headers, json=body)
        assert response.status_code == 404, path
    assert client.get("/bookings", headers=other_headers).json() == []
    assert [b["id"] for b in client.get("/bookings", headers=admin_headers).json()] == [mine["id"]]
    assert client.get(f"/bookings/{mine['id']}", headers=admin_headers).status_code == 200


def test_paging(client, room, user_headers):
    ids = [book(client, user_headers, room["id"], starts_at=f"2030-06-0{day}T09:00:00Z",
                ends_at=f"2030-06-0{day}T10:00:00Z").json()["id"] for day in range(1, 6)]
    page = client.get("/bookings?limit=2&offset=1", headers=user_headers).json()
    assert [b["id"] for b in page] == [ids[3], ids[2]]
    assert client.get("/bookings?limit=0", headers=user_headers).status_code == 422
    assert client.get("/bookings?offset=-1", headers=user_headers).status_code == 422


@pytest.mark.parametrize("fields", [
    {"starts_at": "2030-05-01T09:00:00", "ends_at": "2030-05-01T10:00:00"},    # no offset
    {"starts_at": "2030-05-01T10:00:00Z", "ends_at": "2030-05-01T09:00:00Z"},  # backwards
    {"starts_at": "0001-01-01T00:00:00+01:00"},                                # out of range
    {"starts_at": "yesterday"},
    {"title": ""},
    {"room_id": "one"},
    {"room_id": 2**40},
    {"surprise": "field"},
])
def test_bad_bookings_are_422(client, room, user_headers, fields):
    response = book(client, user_headers, **{"room": room["id"], **fields})
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)


def test_unknown_room_and_booking_ids_are_404(client, user_headers):
    assert book(client, user_headers, 12345).status_code == 404
    assert client.get("/bookings/12345", headers=user_headers).status_code == 404
    assert client.post("/bookings/12345/cancel", headers=user_headers).status_code == 404
    assert client.get("/bookings/abc", headers=user_headers).status_code == 422


def test_bookings_need_a_token(client, room):
    assert client.get("/bookings").status_code == 401
    assert client.post("/bookings", json={"room_id": room["id"]}).status_code == 401
