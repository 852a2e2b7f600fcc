"""Helpers of the online cutover's end-to-end tests: the live demo file and its runbook
environment, and the check that every row moved once."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
from online_support import row_differences

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runbook"))
from runbook_support import (  # noqa: E402
    api_running,
    build_demo_sqlite,
    run_invoke,
    runbook_environ,
)
from write_traffic import WriteTraffic  # noqa: E402

from runbook.api_env_file import current_database_url, sqlite_env  # noqa: E402

API_WRITTEN = {"bookings", "refresh_tokens"}  # what the API's traffic writes after the flip
FREEZE_FLAG = "maintenance_state"  # frozen on SQLite at the flip, unfrozen on PostgreSQL since


def ran(done) -> str:
    """A finished invoke run, for an assertion's message."""
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr}"


def pg_titles(url) -> list[str]:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT title FROM bookings")
        return [row[0] for row in cur.fetchall()]


def start_live_demo(tmp_path: Path, pg_url: str) -> tuple[Path, dict[str, str]]:
    """The demo SQLite file (500 rows) and a runbook environment that names it and ``pg_url``."""
    sqlite_path = build_demo_sqlite(tmp_path / "live.db", rows=500)
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path), DB_URL=pg_url,
                              DB_POOL_SIZE="3", DB_MAX_OVERFLOW="2", MONITOR_MAX_P95_MS="3000")
    return sqlite_path, environ


@contextlib.contextmanager
def api_under_traffic(environ: dict[str, str], sqlite_path: Path) -> Iterator[tuple]:
    """The API on the live file (real uvicorn) with booking traffic that has written; yields
    (config, traffic); stops both after (``traffic.snapshot()`` then has every attempt)."""
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        traffic = WriteTraffic(cfg.api_url, "user1@example.com", "password1", room_id=1).start()
        try:
            traffic.wait_for(201, count=5)
            yield cfg, traffic
        finally:
            traffic.stop()


def cut_over_online(environ: dict[str, str], cfg, traffic) -> None:
    """``invoke cutover --online --yes``: it passes and says its window; the API ends on
    PostgreSQL and takes the traffic's writes there."""
    cut = run_invoke("cutover", "--online", "--yes", "--monitor-seconds", "3", environ=environ)
    assert cut.returncode == 0, ran(cut)
    assert re.search(r"window: [0-9.]+ s from freeze to unfreeze", cut.stdout), cut.stdout
    assert current_database_url(cfg).startswith("postgresql")
    traffic.wait_for(201, count=sum(a.status == 201 for a in traffic.snapshot()) + 3)


def assert_moved_once_and_capture_gone(sqlite_path: Path, pg_url: str, attempts) -> None:
    """Every row moved once (below), the window refused writes, the online state is gone."""
    assert_every_row_moved_once(sqlite_path, pg_url, attempts)
    assert any(a.status == 503 for a in attempts), "the window refused nothing"
    assert online_state_dropped(pg_url), "capture-stop left the online state"


def assert_every_row_moved_once(sqlite_path: Path, pg_url: str, attempts) -> None:
    """Every row SQLite has is in PostgreSQL and equal; PostgreSQL has only the API's own
    writes since the flip besides; every accepted write is there once, no refused one."""
    differences = row_differences(sqlite_path, pg_url)
    assert differences.pop(FREEZE_FLAG) == (["1"], 0)
    for table, (differing, extra) in differences.items():
        assert not differing, f"{table}: rows lost or changed by the cutover: {differing[:5]}"
        assert not extra or table in API_WRITTEN, f"{table}: {extra} rows SQLite never had"
    titles = pg_titles(pg_url)
    accepted = [a.title for a in attempts if a.status == 201]
    assert set(accepted) <= set(titles), "an accepted write is missing from PostgreSQL"
    assert len(titles) == len(set(titles)), "a row was written twice"
    assert not {a.title for a in attempts if a.status != 201} & set(titles)


def online_state_dropped(pg_url: str) -> bool:
    """True when the target holds no online state (capture-stop ran)."""
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regnamespace('_cutover_online')")
        return cur.fetchone()[0] is None
