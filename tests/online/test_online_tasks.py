"""The online tasks as an operator meets them: listed with their [online N] tag, dry runs that
change nothing on either side, and no change without --yes when there is no terminal."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from pathlib import Path

import pytest
from online_support import build_sqlite, create_pg_schema

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runbook"))
from runbook_support import run_invoke, runbook_environ  # noqa: E402

from sqlite_to_pg.change_capture import capture_objects  # noqa: E402

pytestmark = pytest.mark.requires_pg
ONLINE_TASKS = ["capture-start", "precopy", "catch-up", "capture-stop"]


def _capture(path: Path) -> list:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return capture_objects(conn)


def _target_tables(pg_url: str) -> dict[str, int]:
    import psycopg2

    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regnamespace('_cutover_online') IS NOT NULL, "
                    "(SELECT count(*) FROM person)")
        return dict(zip(("state", "person_rows"), cur.fetchone(), strict=True))


@pytest.fixture
def environ(tmp_path, pg_url):
    path = build_sqlite(tmp_path / "live.db")
    create_pg_schema(pg_url)
    return runbook_environ(tmp_path, SQLITE_PATH=str(path), DB_URL=pg_url), path


def test_the_online_tasks_are_listed_with_their_step(environ):
    listed = run_invoke("--list", environ=environ[0]).stdout
    for name in ONLINE_TASKS:
        line = next(line for line in listed.splitlines() if line.split()[:1] == [name])
        assert "[online" in line, line


def test_dry_runs_change_nothing_on_either_side(environ, pg_url):
    env, path = environ
    start = run_invoke("capture-start", "--dry-run", environ=env)
    assert start.returncode == 0, start.stderr
    assert "person (id)" in start.stdout and "[dry-run]" in start.stdout
    assert _capture(path) == [] and not _target_tables(pg_url)["state"]
    started = run_invoke("capture-start", "--yes", environ=env)
    assert started.returncode == 0, started.stderr
    assert "capture-stop" in started.stdout  # says how to remove it
    installed = _capture(path)
    early = run_invoke("catch-up", "--dry-run", environ=env)
    assert early.returncode == 1 and "pre-copy has not completed" in early.stderr
    stop = run_invoke("capture-stop", "--dry-run", environ=env)
    assert stop.returncode == 0 and "_cutover_changes" in stop.stdout, stop.stderr
    assert _capture(path) == installed
    assert _target_tables(pg_url) == {"state": True, "person_rows": 0}
    cut = run_invoke("cutover", "--online", "--dry-run", environ=env)
    assert "pre-copy has not completed" in cut.stderr and "Traceback" not in cut.stderr


def test_without_yes_and_without_a_terminal_nothing_is_installed(environ):
    env, path = environ
    done = run_invoke("capture-start", environ=env)
    assert done.returncode == 1 and "--yes" in done.stderr
    assert _capture(path) == []


def test_capture_stop_removes_what_capture_start_installed(environ, pg_url):
    env, path = environ
    assert run_invoke("capture-start", "--yes", environ=env).returncode == 0
    stop = run_invoke("capture-stop", "--yes", environ=env)
    assert stop.returncode == 0, stop.stderr
    assert _capture(path) == [] and not _target_tables(pg_url)["state"]
