"""The online cutover end to end: a real API (uvicorn) on SQLite under write traffic, capture
installed while it serves, ``invoke precopy``, ``invoke catch-up``, ``invoke cutover --online``.
Every row SQLite had at the flip is in PostgreSQL and equal, no accepted write is lost or
written twice, no refused write left a row; a failed verification in the window leaves the API
on SQLite, unfrozen."""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path

import psycopg2
import pytest
from online_support import Mutator, row_differences

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runbook"))
from runbook_support import api_running, build_demo_sqlite, run_invoke, runbook_environ  # noqa: E402
from write_traffic import WriteTraffic  # noqa: E402

from runbook.api_env_file import current_database_url, sqlite_env  # noqa: E402
from runbook.freeze import write_probe  # noqa: E402

pytestmark = [pytest.mark.requires_pg, pytest.mark.slow, pytest.mark.timeout(900)]
API_WRITTEN = {"bookings", "refresh_tokens"}  # what the API's traffic writes after the flip
FREEZE_FLAG = "maintenance_state"  # frozen on SQLite at the flip, unfrozen on PostgreSQL since


def _ran(done) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr}"


def _pg_titles(url) -> list[str]:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT title FROM bookings")
        return [row[0] for row in cur.fetchall()]


def _start(tmp_path, pg_url):
    sqlite_path = build_demo_sqlite(tmp_path / "live.db", rows=500)
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path), DB_URL=pg_url,
                              DB_POOL_SIZE="3", DB_MAX_OVERFLOW="2", MONITOR_MAX_P95_MS="3000")
    return sqlite_path, environ


def test_online_cutover_under_write_traffic_moves_every_row(pg_url, tmp_path):
    sqlite_path, environ = _start(tmp_path, pg_url)
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        traffic = WriteTraffic(cfg.api_url, "user1@example.com", "password1", room_id=1).start()
        try:
            traffic.wait_for(201, count=5)
            with Mutator(sqlite_path, seed=11).in_background(0.1) as mutator:
                pre = run_invoke("precopy", "--yes", "--max-rounds", "2", environ=environ)
                assert pre.returncode == 0, _ran(pre)
                assert "snapshot" in pre.stdout and "verified" in pre.stdout
                # the API kept answering and its writes were captured while capture went on
                before = sum(a.status == 201 for a in traffic.snapshot())
                traffic.wait_for(201, count=before + 5)
                up = run_invoke("catch-up", "--yes", "--rounds", "2", environ=environ)
                assert up.returncode == 0, _ran(up)
                assert re.search(r"row change\(s\) behind", up.stdout), up.stdout
            assert mutator.writes > 3
            cut = run_invoke("cutover", "--online", "--yes", "--monitor-seconds", "3",
                             environ=environ)
            assert cut.returncode == 0, _ran(cut)
            assert re.search(r"window: [0-9.]+ s from freeze to unfreeze", cut.stdout)
            assert current_database_url(cfg).startswith("postgresql")
            traffic.wait_for(201, count=sum(a.status == 201 for a in traffic.snapshot()) + 3)
        finally:
            attempts = traffic.stop()

    differences = row_differences(sqlite_path, pg_url)
    assert differences.pop(FREEZE_FLAG) == (["1"], 0)
    for table, (differing, extra) in differences.items():
        assert not differing, f"{table}: rows lost or changed by the cutover: {differing[:5]}"
        assert not extra or table in API_WRITTEN, f"{table}: {extra} rows SQLite never had"
    titles = _pg_titles(pg_url)
    accepted = [a.title for a in attempts if a.status == 201]
    assert set(accepted) <= set(titles), "an accepted write is missing from PostgreSQL"
    assert len(titles) == len(set(titles)), "a row was written twice"
    assert not {a.title for a in attempts if a.status != 201} & set(titles)
    assert any(a.status == 503 for a in attempts), "the window refused nothing"
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regnamespace('_cutover_online')")
        assert cur.fetchone()[0] is None, "capture-stop left the online state"
    assert list((tmp_path / "snapshots").glob("*.sqlite")), "no snapshot for rollback"


def test_a_failed_window_verification_leaves_the_api_on_sqlite_unfrozen(pg_url, tmp_path):
    sqlite_path, environ = _start(tmp_path, pg_url)
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        pre = run_invoke("precopy", "--yes", environ=environ)
        assert pre.returncode == 0, _ran(pre)
        Mutator(sqlite_path, seed=12).many(3)
        up = run_invoke("catch-up", "--yes", environ=environ)
        assert up.returncode == 0, _ran(up)
        with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
            cur.execute("SELECT key FROM _cutover_online.touched WHERE tbl = 'users' LIMIT 1")
            user_id = int(cur.fetchone()[0].strip('[]"'))
            cur.execute("UPDATE users SET name = 'tampered' WHERE id = %s", (user_id,))
            conn.commit()
        cut = run_invoke("cutover", "--online", "--yes", "--monitor-seconds", "1",
                         environ=environ)
        assert cut.returncode == 1, _ran(cut)
        assert "users" in cut.stderr and str(user_id) in cut.stderr, cut.stderr
        assert "Traceback" not in cut.stderr
        assert current_database_url(cfg).startswith("sqlite")
        assert write_probe(cfg.api_url) != 503, "the API was left frozen"
