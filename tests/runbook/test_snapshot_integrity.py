"""``snapshot``: an online backup that is integrity-checked, checksummed and read-only."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import stat
import subprocess
import sys
import threading

import pytest

from foundation.sqlite_files import open_read_only
from runbook.config import PROJECT_ROOT
from runbook.errors import RunbookError
from runbook.snapshot import back_up_sqlite_file, verify_snapshot


@pytest.fixture
def live_sqlite(tmp_path):
    path = tmp_path / "live.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO items (body) VALUES (?)",
                         [(f"row {i}",) for i in range(2000)])
        conn.commit()
    return path


def test_snapshot_is_consistent_checked_and_read_only(live_sqlite, tmp_path):
    taken = back_up_sqlite_file(live_sqlite, tmp_path / "snaps")
    assert taken.sha256 == hashlib.sha256(taken.path.read_bytes()).hexdigest()
    assert taken.sidecar.read_text() == f"{taken.sha256}  {taken.path.name}\n"
    for path in (taken.path, taken.sidecar):
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with contextlib.closing(open_read_only(taken.path)) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2000
    assert verify_snapshot(taken.path).sha256 == taken.sha256


def test_snapshot_while_a_writer_is_busy_is_a_consistent_state(live_sqlite, tmp_path):
    """Writes in committed batches of 10 run during the backup: the copy holds whole batches."""
    stop = threading.Event()

    def writer():
        with contextlib.closing(sqlite3.connect(live_sqlite, timeout=10)) as conn:
            while not stop.is_set():
                with conn:
                    conn.executemany("INSERT INTO items (body) VALUES (?)", [("w",)] * 10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        taken = back_up_sqlite_file(live_sqlite, tmp_path / "snaps")
    finally:
        stop.set()
        thread.join()
    with contextlib.closing(open_read_only(taken.path)) as conn:
        count = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert count >= 2000 and (count - 2000) % 10 == 0


def test_a_changed_snapshot_is_detected(live_sqlite, tmp_path):
    taken = back_up_sqlite_file(live_sqlite, tmp_path / "snaps")
    taken.path.chmod(0o644)
    with contextlib.closing(sqlite3.connect(taken.path)) as conn:
        conn.execute("DELETE FROM items WHERE id = 1")
        conn.commit()
    with pytest.raises(RunbookError, match="changed: sha256"):
        verify_snapshot(taken.path)


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(RunbookError, match="no SQLite file at"):
        back_up_sqlite_file(tmp_path / "absent.db", tmp_path / "snaps")


def test_snapshot_task_dry_run_copies_nothing(live_sqlite, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "snapshot", "--sqlite", str(live_sqlite),
         "--dest", str(tmp_path / "snaps"), "--dry-run"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert "[dry-run] nothing copied" in done.stdout
    assert not (tmp_path / "snaps").exists()
