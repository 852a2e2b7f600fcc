"""A failing cutover stops at the failing step and prints the exact command that undoes it;
running that command brings the API back to taking writes on SQLite."""

from __future__ import annotations

import contextlib
import shlex
import sqlite3

import pytest
from runbook_support import api_running, run_invoke, runbook_environ, seed_minimal_sqlite

from runbook.api_env_file import current_database_url, sqlite_env
from runbook.freeze import write_probe

pytestmark = [pytest.mark.requires_pg, pytest.mark.slow]

BAD_BOOKING = ("INSERT INTO bookings (id, room_id, user_id, title, starts_at, ends_at, status, "
               "created_at, updated_at) VALUES (900, 1, 1, 'bad', '2030-01-01 10:00:00', "
               "'not a time', 'active', '2030-01-01 09:00:00', '2030-01-01 09:00:00')")


def _undo_command(stderr: str) -> list[str]:
    line = next(line for line in stderr.splitlines() if line.startswith("To undo: "))
    return shlex.split(line.removeprefix("To undo: ").split("   (")[0])


def test_failures_before_and_after_the_flip_print_a_working_undo(pg_url, tmp_path):
    sqlite_path = seed_minimal_sqlite(tmp_path / "live.db")
    with contextlib.closing(sqlite3.connect(sqlite_path)) as conn:
        conn.execute(BAD_BOOKING)
        conn.commit()
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path), DB_URL=pg_url,
                              DB_POOL_SIZE="2", DB_MAX_OVERFLOW="1")
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        # 1. The preflight rejects the bad row: stop at migrate, still on SQLite, frozen.
        failed = run_invoke("cutover", "--yes", "--local", environ=environ)
        assert failed.returncode == 1
        assert "cutover stopped at step 'migrate'" in failed.stderr
        assert "Traceback" not in failed.stderr
        assert current_database_url(cfg).startswith("sqlite")
        assert write_probe(cfg.api_url) == 503
        undo = _undo_command(failed.stderr)
        assert undo == ["invoke", "unfreeze", "--yes"]
        assert run_invoke(*undo[1:], environ=environ).returncode == 0
        assert write_probe(cfg.api_url) != 503

        # 2. Fixed data, but the monitor fails after the flip: the undo is the rollback.
        with contextlib.closing(sqlite3.connect(sqlite_path)) as conn:
            conn.execute("DELETE FROM bookings WHERE id = 900")
            conn.commit()
        strict = {**environ, "MONITOR_MAX_P95_MS": "0.001"}
        failed = run_invoke("cutover", "--yes", "--local", "--monitor-seconds", "1",
                            environ=strict)
        assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr
        assert "cutover stopped at step 'monitor'" in failed.stderr
        assert current_database_url(cfg).startswith("postgresql")
        undo = _undo_command(failed.stderr)
        assert undo[:3] == ["invoke", "rollback", "--snapshot"]
        back = run_invoke(*undo[1:], "--yes", "--discard-new-rows", environ=environ)
        assert back.returncode == 0, back.stdout[-3000:] + back.stderr
        assert current_database_url(cfg).startswith("sqlite")
        assert write_probe(cfg.api_url) != 503
