"""Frames the parser cannot take get an error frame (the socket stays open); any surprise on a
frame closes the socket with 1011 and a reason, never a bare drop or a reasonless 1000."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from helpers import TEST_SECRET_KEY, serve_in_thread
from realtime_support import close_of, joined, next_frame, send

from app.db import database
from app.json_depth import MAX_JSON_DEPTH
from app.main import create_app
from app.realtime import router
from app.settings import load_settings

DEEP = "[" * 30000 + "]" * 30000  # 60 000 characters: under the 64 KiB frame limit


@pytest.mark.parametrize("frame", [
    DEEP,
    '{"type": "send", "thread_id": 1, "body": ' + "[" * 900 + "]" * 900 + "}",
    "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
], ids=["30000-deep", "900-deep-body", "one-past-the-limit"])
def test_a_deeply_nested_frame_gets_an_error_frame(api, seed, frame) -> None:
    with joined(api, seed.user("deep")) as (ws, _):
        ws.send(frame)
        error = next_frame(ws)
        assert error["type"] == "error", error
        assert f"nested deeper than {MAX_JSON_DEPTH} levels" in error["detail"]
        send(ws, type="subscribe")  # still open, still served
        assert next_frame(ws)["type"] == "ready"


def test_nesting_at_the_limit_is_parsed(api, seed) -> None:
    with joined(api, seed.user("shallow")) as (ws, _):
        ws.send("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
        assert next_frame(ws) == {"type": "error", "detail": "frame must be a JSON object"}


@pytest.fixture
def surprising(chat_db_url: str, tmp_path, monkeypatch) -> Iterator[str]:
    """An in-process uvicorn whose frame handler fails in a way nobody planned for."""

    async def broken(*_args) -> None:
        raise RuntimeError("a bug nobody planned for")

    monkeypatch.setattr(router, "handle_frame", broken)
    settings = load_settings(sqlalchemy_database_url=chat_db_url, secret_key=TEST_SECRET_KEY,
                             environment="test", upload_dir=tmp_path)
    with serve_in_thread(create_app(settings, db_wait_seconds=5)) as base_url:
        yield base_url
    database.reset()


def test_an_unexpected_error_closes_with_1011_and_is_logged(surprising, seed, caplog) -> None:
    with joined(surprising, seed.user("unlucky")) as (ws, _):
        ws.send(json.dumps({"type": "subscribe"}))
        assert close_of(ws) == (1011, "internal error")
    assert any("unexpected error on a frame" in r.getMessage() and r.exc_info
               for r in caplog.records)
