"""One size of the online benchmark, end to end, on a real API and a real Postgres.

1. Build a booking-shaped SQLite file (``benchmarks.migration.data``) plus a user to write as;
   a fresh target database at Alembic head; start the API on the file (uvicorn, 2 workers).
2. Write latency through the API (after a warm-up): as the file is (rollback journal), in WAL
   mode without triggers, then after capture-start (WAL + triggers): the triggers' own cost is
   the last two compared.
3. Pre-copy (snapshot + the migration command) and catch-up rounds while a writer keeps
   creating bookings through the API.
4. Stop the writer, catch up to zero, then make ``changes`` row changes (single-row UPDATEs of
   random bookings, committed 100 at a time, as an application would).
5. The window: freeze (the real flag; it waits out the workers' cache), the last round +
   sequences + verification (``sqlite_to_pg.online.window``), unfreeze — timed. The flip's API
   restart is left out (it costs the same on both paths and does not depend on the size).
"""

from __future__ import annotations

import contextlib
import random
import secrets
import sqlite3
import time
from pathlib import Path

from app.security import hash_password
from benchmarks.migration.data import apply_schema, build_sqlite
from benchmarks.online.api_writes import ApiWriter
from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import create_database, drop_database, free_port
from runbook import api_process
from runbook.api_env_file import read_env_file, sqlite_env, write_env_file
from runbook.config import load_config
from runbook.freeze import set_freeze
from runbook.shell import Shell
from sqlite_to_pg import online

BENCH_EMAIL = "online-bench@example.org"
BENCH_PASSWORD = "online-bench-password"  # noqa: S105 - a throwaway benchmark user
APP_ROLE = "cutover_app"
CHANGES_PER_COMMIT = 100
WARMUP_WRITES = 30


def _add_writer_user(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("INSERT INTO users (email, name, password_hash, is_admin, created_at) "
                     "VALUES (?, 'bench', ?, 0, '2024-01-01 00:00:00.000000')",
                     (BENCH_EMAIL, hash_password(BENCH_PASSWORD)))
        conn.commit()


def make_changes(path: Path, count: int, seed: int = 5) -> None:
    """``count`` single-row UPDATEs of random existing bookings, 100 per commit."""
    rng = random.Random(seed)
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        top = conn.execute("SELECT max(id) FROM bookings").fetchone()[0]
        for start in range(0, count, CHANGES_PER_COMMIT):
            for number in range(start, min(count, start + CHANGES_PER_COMMIT)):
                conn.execute("UPDATE bookings SET notes = ? WHERE id = ?",
                             (f"changed {number}", rng.randint(1, top)))
            conn.commit()


def _config(workdir: Path):
    environ = {"API_URL": f"http://127.0.0.1:{free_port()}",
               "API_ENV_FILE": str(workdir / "api.env"), "RUNBOOK_RUN_DIR": str(workdir / "run"),
               "SNAPSHOT_DIR": str(workdir / "snapshots"), "API_WORKERS": "2"}
    return load_config({}, environ)


def run_size(server_url: str, rows: int, workdir: Path, *, changes: int, latency_writes: int,
             log=print) -> dict:
    """Every figure for one size (see the module docstring)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"online-{rows}.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    log(f"building {path} ({rows:,} rows)")
    build_sqlite(path, rows, log=log)
    _add_writer_user(path)
    pg_url = create_database(server_url, owner=APP_ROLE)
    cfg = _config(workdir)
    figures: dict = {"rows": rows, "sqlite_mb": round(path.stat().st_size / 2**20)}
    try:
        apply_schema(sqlalchemy_url(pg_url))
        write_env_file(cfg.path(cfg.api_env_file), {
            **sqlite_env(path), "SECRET_KEY": secrets.token_urlsafe(32),
            "UPLOAD_DIR": str(workdir / "uploads")})
        api_process.start_api(cfg, read_env_file(cfg.path(cfg.api_env_file)))
        try:
            figures |= _measure(cfg, path, pg_url, changes=changes,
                                latency_writes=latency_writes, log=log)
        finally:
            api_process.stop_api(cfg)
    finally:
        with contextlib.suppress(Exception):
            online.stop_capture(path, None)
        drop_database(server_url, pg_url.rsplit("/", 1)[-1])
    return figures


def _measure(cfg, path: Path, pg_url: str, *, changes: int, latency_writes: int, log) -> dict:
    figures: dict = {}
    writer = ApiWriter(cfg.api_url, BENCH_EMAIL, BENCH_PASSWORD)
    try:
        writer.measure(WARMUP_WRITES)
        figures["latency_rollback_journal"] = writer.measure(latency_writes)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode = WAL")  # what capture-start does first
        figures["latency_without_capture"] = writer.measure(latency_writes)
        with online.open_session(path, pg_url) as session:
            online.start_capture(session, path)
        figures["latency_with_capture"] = writer.measure(latency_writes)
        log(f"write latency without / with capture: {figures['latency_without_capture']} / "
            f"{figures['latency_with_capture']}")
        writer.latencies = []
        writer.start(pause=0.02)
        started = time.monotonic()
        with online.open_session(path, pg_url) as session:
            _, _, report = online.precopy_load(session, path, pg_url, path.parent / "snap")
        figures["precopy_s"] = round(time.monotonic() - started, 2)
        figures["single_window_move_s"] = report["seconds"]
        figures["rounds_under_load"] = _rounds(path, pg_url, until=200, log=log)
        figures["writes_during_precopy"] = writer.stop()
    finally:
        writer.close()
    _rounds(path, pg_url, until=0, log=log)
    make_changes(path, changes)
    shell = Shell(assume_yes=True)
    started = time.monotonic()
    set_freeze(shell, cfg, True, "online benchmark")
    with online.open_session(path, pg_url) as session:
        result = online.window(session, path)
    set_freeze(shell, cfg, False, None)
    figures["window_s"] = round(time.monotonic() - started, 2)
    figures["window_engine_s"] = round(result.seconds, 2)
    figures["window_changes"] = result.round.position_after - result.round.position_before
    figures["window_keys"] = result.round.key_count
    figures["window_ok"] = result.ok
    figures["window_rate_changes_per_s"] = round(figures["window_changes"] /
                                                 result.round.seconds)
    if not result.ok:
        figures["window_problems"] = result.problems[:5]
    log(f"window: {figures['window_s']} s (engine {figures['window_engine_s']} s, "
        f"{figures['window_changes']:,} changes, ok={result.ok})")
    return figures


def _rounds(path: Path, pg_url: str, *, until: int, log, limit: int = 20) -> list[dict]:
    done = []
    with online.open_session(path, pg_url) as session:
        for _ in range(limit):
            result = online.catch_up_round(session, path)
            moved = result.position_after - result.position_before
            done.append({"changes": moved, "seconds": round(result.seconds, 3),
                         "changes_per_s": round(moved / result.seconds) if result.seconds else 0})
            behind = online.lag(session, path).rows_behind
            log(f"round: {moved:,} changes in {result.seconds:.2f} s; {behind:,} behind")
            if behind <= until:
                break
    return done
