"""The online cutover end to end: a real API (uvicorn) on SQLite under write traffic, capture
installed while it serves, ``invoke precopy``, ``invoke catch-up``, ``invoke cutover --online``.
Every row SQLite had at the flip is in PostgreSQL and equal, no accepted write is lost or
written twice, no refused write left a row; a failed verification in the window leaves the API
on SQLite, unfrozen, and runs capture-stop. A flip that fails after the last round leaves the
API frozen on PostgreSQL and a snapshot; ``invoke rollback`` then takes it back to SQLite and
runs capture-stop. Either way the file is left without capture triggers or change log.

Killed (SIGKILL, a real process) inside the window, after the freeze, while its last round is
applying, then run again: the killed round left nothing (the position is where it was), the API
stays frozen on SQLite until the rerun, and after the rerun every row is in PostgreSQL once and
equal. The kill lands inside the round for sure: the test holds an EXCLUSIVE lock on
``bookings`` in the target (reads pass, writes wait), so the round stops at its first write to
that table, which the traffic's new bookings make certain, and the test kills it once the
server shows that backend waiting for the lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from online_e2e_support import (
    api_under_traffic,
    assert_moved_once_and_capture_gone,
    cut_over_online,
    online_state_dropped,
    ran,
    start_live_demo,
)
from online_support import Mutator
from runbook_support import api_running, run_invoke

from foundation.polling import poll_until
from runbook.api_env_file import current_database_url, sqlite_env
from runbook.config import PROJECT_ROOT
from runbook.freeze import write_probe
from sqlite_to_pg.change_capture import capture_objects

pytestmark = [pytest.mark.requires_pg, pytest.mark.slow, pytest.mark.timeout(900)]
LAST_ROUND_STEP = "last round, sequences, verify"
WAIT_S = 120.0


def test_online_cutover_under_write_traffic_moves_every_row(pg_url, tmp_path):
    sqlite_path, environ = start_live_demo(tmp_path, pg_url)
    with api_under_traffic(environ, sqlite_path) as (cfg, traffic):
        with Mutator(sqlite_path, seed=11).in_background(0.1) as mutator:
            pre = run_invoke("precopy", "--yes", "--max-rounds", "2", environ=environ)
            assert pre.returncode == 0, ran(pre)
            assert "snapshot" in pre.stdout and "verified" in pre.stdout
            # the API kept answering and its writes were captured while capture went on
            before = sum(a.status == 201 for a in traffic.snapshot())
            traffic.wait_for(201, count=before + 5)
            up = run_invoke("catch-up", "--yes", "--rounds", "2", environ=environ)
            assert up.returncode == 0, ran(up)
            assert re.search(r"row change\(s\) behind", up.stdout), up.stdout
        assert mutator.writes > 3
        cut_over_online(environ, cfg, traffic)
    attempts = traffic.snapshot()

    assert_moved_once_and_capture_gone(sqlite_path, pg_url, attempts)
    assert list((tmp_path / "snapshots").glob("*.sqlite")), "no snapshot for rollback"


def _position(pg_url: str) -> int:
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT position FROM _cutover_online.state")
        return cur.fetchone()[0]


def _waiting_backend(admin, blocker_pid: int) -> int:
    """The pid of the backend that waits for the blocker's lock (raises until there is one)."""
    with admin.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    (blocker_pid,))
        row = cur.fetchone()
    if row is None:
        raise LookupError("no backend waits for the lock yet")
    return row[0]


def _gone(admin, pid: int) -> None:
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
        if cur.fetchone() is not None:
            raise LookupError(f"backend {pid} still runs")


def _start_cutover(environ: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", "cutover", "--online", "--yes", "--monitor-seconds",
         "3"], cwd=PROJECT_ROOT, env={**os.environ, **environ}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def _read_until_step(process: subprocess.Popen, step: str) -> list[str]:
    """Its output up to the line that starts ``step`` (AssertionError if it ends before)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("== step") and line.rstrip().endswith(f": {step}"):
            return lines
    raise AssertionError("the cutover ended before its last round:\n" + "".join(lines[-60:]))


def test_a_cutover_killed_in_its_last_round_and_rerun_moves_every_row_once(pg_url, tmp_path):
    sqlite_path, environ = start_live_demo(tmp_path, pg_url)
    with api_under_traffic(environ, sqlite_path) as (cfg, traffic):
        with Mutator(sqlite_path, seed=21).in_background(0.1):
            pre = run_invoke("precopy", "--yes", "--max-rounds", "1", environ=environ)
            assert pre.returncode == 0, ran(pre)
        traffic.wait_for(201, count=sum(a.status == 201 for a in traffic.snapshot()) + 5)
        position = _position(pg_url)

        with contextlib.closing(psycopg2.connect(pg_url)) as blocker, \
                contextlib.closing(psycopg2.connect(pg_url)) as admin:
            admin.autocommit = True
            with blocker.cursor() as cur:
                cur.execute("LOCK TABLE bookings IN EXCLUSIVE MODE")
                cur.execute("SELECT pg_backend_pid()")
                blocker_pid = cur.fetchone()[0]
            cutover = _start_cutover(environ)
            try:
                seen = _read_until_step(cutover, LAST_ROUND_STEP)
                assert any("freeze ok" in line for line in seen), "".join(seen[-30:])
                round_backend = poll_until(lambda: _waiting_backend(admin, blocker_pid),
                                           timeout=WAIT_S, interval=0.1,
                                           retry_on=(LookupError,))
                cutover.send_signal(signal.SIGKILL)
                assert cutover.wait(30) == -signal.SIGKILL
            finally:
                if cutover.poll() is None:
                    cutover.kill()
                cutover.stdout.close()
            # killed after the freeze, before the flip: frozen on SQLite until the rerun
            assert current_database_url(cfg).startswith("sqlite")
            assert write_probe(cfg.api_url) == 503, "the killed window left writes open"
            blocker.rollback()  # the orphaned round finds its client gone and rolls back
            poll_until(lambda: _gone(admin, round_backend), timeout=WAIT_S,
                       interval=0.1, retry_on=(LookupError,))
        assert _position(pg_url) == position, "the killed round left its position"

        cut_over_online(environ, cfg, traffic)  # the rerun
    attempts = traffic.snapshot()

    assert_moved_once_and_capture_gone(sqlite_path, pg_url, attempts)


def _capture_in(sqlite_path) -> list:
    with contextlib.closing(sqlite3.connect(sqlite_path)) as conn:
        return capture_objects(conn)


def test_a_failed_window_verification_leaves_the_api_on_sqlite_unfrozen(pg_url, tmp_path):
    sqlite_path, environ = start_live_demo(tmp_path, pg_url)
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        pre = run_invoke("precopy", "--yes", environ=environ)
        assert pre.returncode == 0, ran(pre)
        Mutator(sqlite_path, seed=12).many(3)
        up = run_invoke("catch-up", "--yes", environ=environ)
        assert up.returncode == 0, ran(up)
        with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
            cur.execute("SELECT key FROM _cutover_online.touched WHERE tbl = 'users' LIMIT 1")
            user_id = int(cur.fetchone()[0].strip('[]"'))
            cur.execute("UPDATE users SET name = 'tampered' WHERE id = %s", (user_id,))
            conn.commit()
        cut = run_invoke("cutover", "--online", "--yes", "--monitor-seconds", "1",
                         environ=environ)
        assert cut.returncode == 1, ran(cut)
        assert "users" in cut.stderr and str(user_id) in cut.stderr, cut.stderr
        assert "Traceback" not in cut.stderr
        assert current_database_url(cfg).startswith("sqlite")
        assert write_probe(cfg.api_url) != 503, "the API was left frozen"
    assert _capture_in(sqlite_path) == [], "the aborted cutover left the capture in the file"
    assert online_state_dropped(pg_url), "the aborted cutover left the online state"


def test_rollback_after_a_failed_online_flip_removes_the_capture(pg_url, tmp_path):
    """The flip's upload check fails (the files are not where the API looks): the cutover stops
    frozen on PostgreSQL, naming rollback; the rollback leaves SQLite serving, unfrozen, and
    the file without capture."""
    sqlite_path, environ = start_live_demo(tmp_path, pg_url)
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        pre = run_invoke("precopy", "--yes", environ=environ)
        assert pre.returncode == 0, ran(pre)
        Mutator(sqlite_path, seed=13).many(3)
        uploads = Path(environ["UPLOAD_DIR"])
        uploads.rename(uploads.with_name("uploads-elsewhere"))
        cut = run_invoke("cutover", "--online", "--yes", "--monitor-seconds", "1",
                         environ=environ)
        assert cut.returncode == 1, ran(cut)
        assert "upload(s) checked are missing" in cut.stderr, cut.stderr
        assert "invoke rollback" in cut.stderr and "Traceback" not in cut.stderr, cut.stderr
        assert current_database_url(cfg).startswith("postgresql")
        assert write_probe(cfg.api_url) == 503, "the failed flip left writes open"
        assert _capture_in(sqlite_path), "nothing left for the rollback to remove"

        back = run_invoke("rollback", "--yes", environ=environ)
        assert back.returncode == 0, ran(back)
        assert "capture-stop" in back.stdout
        assert current_database_url(cfg).startswith("sqlite")
        assert write_probe(cfg.api_url) != 503, "the rollback left the API frozen"
    assert _capture_in(sqlite_path) == [], "the rollback left the capture in the file"
    assert online_state_dropped(pg_url), "the rollback left the online state"
