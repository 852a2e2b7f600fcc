"""The online cutover's engine against a real Postgres: rounds under concurrent writes leave
every row equal, kills at any point are harmless on rerun, schema changes on either side and a
table without a key are refused, and a window whose verification fails keeps nothing."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from online_support import Writer, build_sqlite, compare_all, create_pg_schema

from sqlite_to_pg import online
from sqlite_to_pg.change_capture import CaptureRefused, capture_objects

pytestmark = pytest.mark.requires_pg


@pytest.fixture
def live(tmp_path: Path, pg_url: str) -> Path:
    """A live SQLite file with capture started against a fresh target."""
    path = build_sqlite(tmp_path / "live.db")
    create_pg_schema(pg_url)
    with online.open_session(path, pg_url) as session:
        online.start_capture(session, path)
    return path


def _precopy(path: Path, pg_url: str, tmp_path: Path) -> None:
    with online.open_session(path, pg_url) as session:
        online.precopy_load(session, path, pg_url, tmp_path / "snapshots")


def _round(path: Path, pg_url: str):
    with online.open_session(path, pg_url) as session:
        return online.catch_up_round(session, path)


def _window(path: Path, pg_url: str):
    with online.open_session(path, pg_url) as session:
        return online.window(session, path)


def test_capture_starts_while_the_api_is_inside_a_write_transaction(tmp_path, pg_url):
    """SQLite refuses the switch to WAL at once, without its busy handler, while another
    connection holds a write transaction: start waits for that commit instead of failing."""
    path = build_sqlite(tmp_path / "live.db")
    create_pg_schema(pg_url)
    api = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    api.execute("BEGIN IMMEDIATE")
    api.execute("INSERT INTO region VALUES (998, 'written while capture starts')")
    committer = threading.Timer(0.5, api.execute, ("COMMIT",))
    committer.start()
    try:
        with online.open_session(path, pg_url) as session:
            changed = online.start_capture(session, path)
    finally:
        committer.join()
        api.close()
    assert any(line.endswith("-> wal") for line in changed)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT name FROM region WHERE id = 998").fetchone() == (
            "written while capture starts",)


def test_rounds_under_concurrent_writes_leave_every_row_equal(live, pg_url, tmp_path):
    with Writer(live, seed=3).in_background() as writer:
        _precopy(live, pg_url, tmp_path)
        for _ in range(3):
            assert _round(live, pg_url).ok
    assert writer.writes > 20, "the writer made too few changes to mean anything"
    Writer(live, seed=4).many(50)  # the last changes, applied in the window
    result = _window(live, pg_url)
    assert result.ok, result.problems
    assert result.round.key_count > 0 and result.touched_checked >= result.round.key_count
    assert compare_all(live, pg_url) == []


def test_a_table_without_a_key_is_named_and_refused(tmp_path, pg_url):
    path = build_sqlite(tmp_path / "live.db")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE audit_log (at TEXT, what TEXT)")
    create_pg_schema(pg_url)
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE audit_log (at text, what text)")
        conn.commit()
    with pytest.raises(CaptureRefused, match="audit_log"), online.open_session(path, pg_url):
        pass
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert capture_objects(conn) == []


def test_a_schema_change_on_the_sqlite_side_is_refused(live, pg_url, tmp_path):
    _precopy(live, pg_url, tmp_path)
    with contextlib.closing(sqlite3.connect(live)) as conn:
        conn.execute("CREATE INDEX person_email ON person (email)")
    with pytest.raises(CaptureRefused, match="SQLite file"):
        _round(live, pg_url)


def test_a_schema_change_on_the_postgres_side_is_refused(live, pg_url, tmp_path):
    _precopy(live, pg_url, tmp_path)
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE person ADD COLUMN nickname text")
        conn.commit()
    with pytest.raises(CaptureRefused, match="Postgres target"):
        _round(live, pg_url)


def test_a_changed_row_no_converter_can_carry_is_refused_and_named(live, pg_url, tmp_path):
    # text written into an integer column after the precopy: it must neither become NULL nor
    # be read as a number on the way
    _precopy(live, pg_url, tmp_path)
    query = "SELECT * FROM person WHERE id = 5"
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute(query)
        before = cur.fetchall()
    with contextlib.closing(sqlite3.connect(live)) as conn:
        conn.execute("UPDATE person SET manager_id = 'boss' WHERE id = 5")
        conn.commit()
    with pytest.raises(CaptureRefused, match=r"person: a changed row .*column\(s\) manager_id"):
        _round(live, pg_url)
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute(query)
        assert cur.fetchall() == before


def test_a_failed_window_verification_keeps_nothing_and_names_the_row(live, pg_url, tmp_path):
    _precopy(live, pg_url, tmp_path)
    with contextlib.closing(sqlite3.connect(live)) as conn:
        conn.execute("UPDATE person SET email = 'changed@example.com' WHERE id = 5")
        conn.commit()
    assert _round(live, pg_url).ok
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("UPDATE person SET email = 'tampered@example.com' WHERE id = 5")
        cur.execute("SELECT position FROM _cutover_online.state")
        position = cur.fetchone()[0]
        conn.commit()
    with contextlib.closing(sqlite3.connect(live)) as conn:  # a change for the last round
        conn.execute("INSERT INTO region VALUES (777, 'late')")
        conn.commit()
    result = _window(live, pg_url)
    assert not result.ok
    assert any("person" in problem and "5" in problem for problem in result.problems)
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT position FROM _cutover_online.state")
        assert cur.fetchone()[0] == position, "a failed window moved the position"


KILLABLE = """
import sys, time
from pathlib import Path
from sqlite_to_pg import online
path, url, what, snapshots = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
print("ready", flush=True)
while True:
    with online.open_session(path, url) as session:
        if what == "precopy":
            online.precopy_load(session, path, url, snapshots)
        else:
            online.catch_up_round(session, path)
"""


def _kill_after(path: Path, pg_url: str, what: str, seconds: float, tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", KILLABLE, str(path), pg_url, what,
                                str(tmp_path / "snapshots")], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().strip() == "ready"
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait(30)


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8])
def test_killed_precopy_and_rounds_rerun_without_a_wrong_row(live, pg_url, tmp_path, delay):
    with Writer(live, seed=6).in_background():
        _kill_after(live, pg_url, "precopy", delay, tmp_path)
        _precopy(live, pg_url, tmp_path)
        _kill_after(live, pg_url, "round", delay, tmp_path)
        _kill_after(live, pg_url, "round", delay * 2, tmp_path)
    assert _round(live, pg_url).ok
    Writer(live, seed=7).many(30)
    _kill_after(live, pg_url, "round", delay, tmp_path)  # as if killed inside the window
    result = _window(live, pg_url)
    assert result.ok, result.problems
    assert compare_all(live, pg_url) == []


def test_a_killed_precopy_before_any_load_starts_over(live, pg_url, tmp_path):
    _kill_after(live, pg_url, "precopy", 0.0, tmp_path)
    with pytest.raises(online.OnlineFailed, match="pre-copy has not completed"):
        _round(live, pg_url)
    _precopy(live, pg_url, tmp_path)
    Writer(live, seed=8).many(20)
    assert _window(live, pg_url).ok
    assert compare_all(live, pg_url) == []


def test_capture_stop_removes_everything(live, pg_url, tmp_path):
    _precopy(live, pg_url, tmp_path)
    removed = online.stop_capture(live, pg_url)
    assert any("_cutover_changes" in line for line in removed)
    with contextlib.closing(sqlite3.connect(live)) as conn:
        assert capture_objects(conn) == []
        conn.execute("INSERT INTO region VALUES (999, 'after stop')")  # writes still work
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regnamespace('_cutover_online')")
        assert cur.fetchone()[0] is None
