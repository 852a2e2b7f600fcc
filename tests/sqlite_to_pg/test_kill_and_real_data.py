"""All or nothing under SIGKILL; the public Chinook sample; a database built by the app."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pgloader_support import CHINOOK_SCHEMA

pytestmark = pytest.mark.requires_pg

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "scripts" / "migrate_sqlite_to_pg.sh"
BIG_ROWS = 300_000
CHINOOK_COUNTS = {"Album": 347, "Artist": 275, "Customer": 59, "Employee": 8, "Genre": 25,
                  "Invoice": 412, "InvoiceLine": 2240, "MediaType": 5, "Playlist": 18,
                  "PlaylistTrack": 8715, "Track": 3503}


def test_a_killed_run_leaves_the_target_as_it_was_and_a_rerun_completes(
        make_sqlite, pg_exec, pg_url, engine, migrate, target_state):
    source = make_sqlite(
        "CREATE TABLE small (id INTEGER PRIMARY KEY, note TEXT);"
        "CREATE TABLE big (id INTEGER PRIMARY KEY, small_id INTEGER, payload TEXT);"
        "INSERT INTO small VALUES (1, 'new');"
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BIG_ROWS}) "
        "INSERT INTO big SELECT i, 1, printf('row %d with some text to copy', i) FROM n;")
    pg_exec("CREATE TABLE small (id integer PRIMARY KEY, note text);"
            "CREATE TABLE big (id integer PRIMARY KEY, small_id integer REFERENCES small (id),"
            " payload text); INSERT INTO small VALUES (1, 'old');")
    before = target_state()
    command = [str(SCRIPT), "--sqlite", str(source), "--pg", pg_url, "--engine", engine, "--yes"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    seen = []
    for line in proc.stderr:  # plain progress lines: wait until the big table is loading
        seen.append(line)
        if line.startswith("big: loading"):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    # Postgres rolled the transaction back: old rows, no new rows, every key as it was.
    assert target_state() == before
    assert pg_exec("SELECT note FROM small") == [("old",)]
    rerun = migrate(source, "--yes")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert pg_exec("SELECT count(*), max(id) FROM big") == [(BIG_ROWS, BIG_ROWS)]
    assert pg_exec("SELECT note FROM small") == [("new",)]
    assert target_state()["schema"] == before["schema"]


def test_the_chinook_sample_migrates_with_its_mixed_case_names(chinook_path, pg_exec, migrate,
                                                               sha256):
    pg_exec(CHINOOK_SCHEMA.read_text())
    digest = sha256(chinook_path)
    done = migrate(chinook_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sha256(chinook_path) == digest
    for table, count in CHINOOK_COUNTS.items():
        assert pg_exec(f'SELECT count(*) FROM "{table}"') == [(count,)], table
    assert pg_exec('SELECT "Name" FROM "Artist" WHERE "ArtistId" = 1') == [("AC/DC",)]
    assert pg_exec('SELECT "ReportsTo" FROM "Employee" WHERE "EmployeeId" = 2') == [(1,)]
    assert pg_exec('SELECT "InvoiceDate", "Total" FROM "Invoice" WHERE "InvoiceId" = 1') == [
        (dt.datetime(2021, 1, 1), Decimal("1.98"))]
    assert pg_exec('INSERT INTO "Artist" ("Name") VALUES (\'new\') RETURNING "ArtistId"') == [
        (276,)]


def _alembic(url: str) -> None:
    env = {**os.environ, "DB_URL": url}
    subprocess.run([sys.executable, "-m", "alembic", "-c", "backend/alembic.ini", "upgrade",
                    "head"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)


def test_a_database_built_by_the_app_migrates_and_the_app_keeps_writing(tmp_path, pg_url,
                                                                        migrate):
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from app.models import Booking, ChatMessage, ChatThread, Room, ThreadMember, User
    from foundation.database_urls import sqlalchemy_url

    sqlite_file = tmp_path / "app.sqlite"
    _alembic(f"sqlite:///{sqlite_file}")
    _alembic(sqlalchemy_url(pg_url))
    start = dt.datetime(2024, 3, 1, 9, 30, 0, 250000, tzinfo=dt.UTC)
    with Session(create_engine(f"sqlite:///{sqlite_file}")) as session:
        users = [User(email=f"u{i}@example.com", name=f"User {i}\twith tab",
                      password_hash="x", is_admin=i == 0, avatar=b"\x00\x01" if i else None)
                 for i in range(3)]
        room = Room(name="Blue", capacity=4, hourly_rate=Decimal("12.50"),
                    features={"projector": True, "seats": [1, 2]})
        session.add_all([*users, room])
        session.flush()
        session.add(Booking(room_id=room.id, user_id=users[1].id, title="Stand-up",
                            starts_at=start, ends_at=start + dt.timedelta(hours=1)))
        thread = ChatThread(title="general", created_by_id=users[0].id)
        session.add(thread)
        session.flush()
        session.add(ThreadMember(thread_id=thread.id, user_id=users[1].id))
        # message 1 replies to message 2: a forward reference inside one table
        session.add_all([ChatMessage(id=1, thread_id=thread.id, sender_id=users[0].id,
                                     reply_to_id=2, body="see below"),
                         ChatMessage(id=2, thread_id=thread.id, sender_id=users[1].id,
                                     body="hello 😀")])
        session.commit()
    done = migrate(sqlite_file)
    assert done.returncode == 0, done.stdout + done.stderr
    with Session(create_engine(sqlalchemy_url(pg_url))) as session:
        booking = session.scalars(select(Booking)).one()
        assert (booking.starts_at, booking.title) == (start, "Stand-up")
        assert session.scalars(select(Room)).one().features == {"projector": True,
                                                                "seats": [1, 2]}
        reply = ChatMessage(thread_id=booking.id, sender_id=booking.user_id, reply_to_id=1,
                            body="new after the cutover")
        newcomer = User(email="new@example.com", name="New", password_hash="x")
        session.add_all([reply, newcomer])
        session.commit()
        assert reply.id == 3 and newcomer.id == 4
        assert session.scalar(select(func.count()).select_from(ChatMessage)) == 3
