"""The demo database: schema from Alembic, awkward content, known logins, reproducible."""

from __future__ import annotations

import subprocess
import sys

import pytest
from api_client import bearer, login
from fastapi.testclient import TestClient
from helpers import PROJECT_ROOT, TEST_SECRET_KEY
from sqlalchemy import create_engine, text

from app.db import database
from app.demo_data import REPLY_CHAIN_LENGTH, build_demo_database
from app.main import create_app
from app.settings import load_settings

ROWS = 3_000


@pytest.fixture
def demo_db(tmp_path):
    path = tmp_path / "demo.db"
    counts = build_demo_database(path, rows=ROWS, seed=11)
    return path, counts


def _scalar(path, sql: str):
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_counts_match_the_tables(demo_db):
    path, counts = demo_db
    assert ROWS * 0.8 <= sum(counts.values()) <= ROWS * 1.2
    for table, count in counts.items():
        assert _scalar(path, f"SELECT count(*) FROM {table}") == count, table
    assert _scalar(path, "SELECT version_num FROM alembic_version") is not None


@pytest.mark.parametrize("what, sql", [
    ("emoji", "SELECT count(*) FROM chat_messages WHERE body LIKE '%🚀%'"),
    ("CJK", "SELECT count(*) FROM chat_messages WHERE body LIKE '%日本語%'"),
    ("accents", "SELECT count(*) FROM users WHERE name LIKE '%Ångström%'"),
    ("tabs", "SELECT count(*) FROM bookings WHERE notes LIKE '%' || char(9) || '%'"),
    ("newlines", "SELECT count(*) FROM chat_messages WHERE body LIKE '%' || char(10) || '%'"),
    ("backslashes", "SELECT count(*) FROM chat_messages WHERE body LIKE '%\\%'"),
    ("NULL notes", "SELECT count(*) FROM bookings WHERE notes IS NULL"),
    ("long text", "SELECT count(*) FROM chat_messages WHERE length(body) >= 10240"),
    ("avatars with NUL bytes", "SELECT count(*) FROM users WHERE instr(avatar, x'00') > 0"),
    ("JSON features", "SELECT count(*) FROM rooms WHERE json_extract(features, '$.floor') "
                      "IS NOT NULL"),
    ("rotated tokens", "SELECT count(*) FROM refresh_tokens WHERE replaced_by_id IS NOT NULL"),
])
def test_awkward_content_is_present(demo_db, what, sql):
    path, _counts = demo_db
    assert _scalar(path, sql) > 0, what


def test_reply_chain_is_deep(demo_db):
    path, _counts = demo_db
    depth = _scalar(path, """
        WITH RECURSIVE chain(id, depth) AS (
            SELECT id, 0 FROM chat_messages WHERE reply_to_id IS NULL
            UNION ALL
            SELECT m.id, chain.depth + 1 FROM chat_messages m JOIN chain ON m.reply_to_id = chain.id
        ) SELECT max(depth) FROM chain""")
    assert depth >= 50 and depth >= REPLY_CHAIN_LENGTH - 1


def test_known_users_log_in_through_the_api(demo_db, tmp_path):
    path, _counts = demo_db
    settings = load_settings(sqlalchemy_database_url=f"sqlite:///{path}", upload_dir=tmp_path,
                             environment="test", secret_key=TEST_SECRET_KEY)
    with TestClient(create_app(settings, db_wait_seconds=5)) as client:
        admin = client.get("/auth/me", headers=bearer(login(client, "demo@example.com",
                                                            "demo-password"))).json()
        user = client.get("/auth/me", headers=bearer(login(client, "user1@example.com",
                                                           "password1"))).json()
        assert admin["is_admin"] is True and user["is_admin"] is False
        rooms = client.get("/rooms").json()
        assert rooms and all(isinstance(room["hourly_rate"], str) for room in rooms)
        assert client.get("/bookings?limit=5", headers=bearer(login(
            client, "demo@example.com", "demo-password"))).status_code == 200
    database.reset()


def test_same_seed_same_data(tmp_path):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    build_demo_database(first, rows=500, seed=3)
    build_demo_database(second, rows=500, seed=3)
    sql = "SELECT group_concat(body, '|') FROM (SELECT body FROM chat_messages ORDER BY id)"
    assert _scalar(first, sql) == _scalar(second, sql)
    with pytest.raises(FileExistsError):
        build_demo_database(first, rows=500)


def test_cli_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "out.db"
    target.write_bytes(b"precious")
    command = [sys.executable, "-m", "app.demo_data", "--out", str(target), "--rows", "300"]
    refused = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert refused.returncode == 2
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert target.read_bytes() == b"precious"
    forced = subprocess.run([*command, "--force"], capture_output=True, text=True,
                            cwd=PROJECT_ROOT)
    assert forced.returncode == 0, forced.stderr
    assert "chat_messages" in forced.stdout and "done:" in forced.stdout
    assert _scalar(target, "SELECT count(*) FROM users") > 0
