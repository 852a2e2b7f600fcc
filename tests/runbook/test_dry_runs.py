"""``--dry-run`` prints what would happen and changes nothing (files, flags, databases)."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest
from helpers import upgrade_schema
from runbook_support import config_for, run_invoke, runbook_environ, seed_minimal_sqlite
from sqlalchemy.engine import make_url

from foundation.database_urls import libpq_url, sqlalchemy_url
from runbook.api_env_file import postgres_env, sqlite_env, write_env_file
from runbook.freeze import read_flag
from runbook.snapshot import back_up_sqlite_file

pytestmark = pytest.mark.requires_pg

PASSWORD = "s3cret-Pa55"


def _tables(url: str) -> set[str]:
    with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cur.fetchall()}


def _row_count(url: str, table: str) -> int:
    with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def _with_password(url: str) -> str:
    """The URL with a password: trust auth ignores it, so only redaction is being tested."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.fixture
def on_sqlite(tmp_path, pg_url):
    """The API's env file names a seeded SQLite file; DB_URL names an empty database."""
    sqlite_path = seed_minimal_sqlite(tmp_path / "live.db")
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path),
                              DB_URL=_with_password(pg_url), DB_POOL_SIZE="3",
                              DB_MAX_OVERFLOW="2")
    cfg = config_for(environ)
    write_env_file(cfg.path(cfg.api_env_file), sqlite_env(sqlite_path))
    return environ, cfg, sqlite_path


def _assert_clean(done) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_cutover_dry_run_prints_every_step_and_changes_nothing(on_sqlite, pg_url):
    environ, cfg, sqlite_path = on_sqlite
    env_before = cfg.path(cfg.api_env_file).read_text()
    done = run_invoke("cutover", "--dry-run", "--local", environ=environ)
    _assert_clean(done)
    for expected in ("[dry-run] would set maintenance enabled=True",
                     "[dry-run] would run: DB_URL=postgresql+psycopg2://cutover_app:***@",
                     "[dry-run] would run: ", "migrate_sqlite_to_pg.sh --sqlite",
                     "[dry-run] would write", "[dry-run] would monitor",
                     "cutover done (dry run: nothing was changed)"):
        assert expected in done.stdout, expected
    assert done.stdout.count("== step") == 2 * 8
    assert cfg.path(cfg.api_env_file).read_text() == env_before
    assert not read_flag(f"sqlite:///{sqlite_path}").enabled
    assert not cfg.path(cfg.snapshot_dir).exists()
    assert _tables(pg_url) == set()


def test_cutover_without_yes_or_a_terminal_asks_and_changes_nothing(on_sqlite, pg_url):
    environ, _cfg, sqlite_path = on_sqlite
    done = run_invoke("cutover", "--local", environ=environ)
    assert done.returncode == 1
    assert "cutover stopped at step 'freeze writes'" in done.stderr
    assert "re-run with --yes" in done.stderr and "Traceback" not in done.stderr
    assert not read_flag(f"sqlite:///{sqlite_path}").enabled
    assert _tables(pg_url) == set()


def test_point_api_dry_run_shows_the_redacted_diff_and_writes_nothing(on_sqlite):
    environ, cfg, _sqlite_path = on_sqlite
    env_before = cfg.path(cfg.api_env_file).read_text()
    done = run_invoke("point-api", "--dry-run", environ=environ)
    _assert_clean(done)
    assert "+ SQLALCHEMY_DATABASE_URL=postgresql+psycopg2://cutover_app:***@" in done.stdout
    assert "+ DB_POOL_SIZE=3" in done.stdout and "+ DB_POOL_RECYCLE=1800" in done.stdout
    assert "connection budget: needed: 2 workers × (3 pool + 2 overflow + 1 listener)" \
        in done.stdout
    assert cfg.path(cfg.api_env_file).read_text() == env_before


def test_schema_and_migrate_dry_runs_leave_the_target_as_it_was(on_sqlite, pg_url):
    environ, _cfg, sqlite_path = on_sqlite
    schema = run_invoke("schema", "--dry-run", environ=environ)
    _assert_clean(schema)
    assert "current (empty), head" in schema.stdout
    assert _tables(pg_url) == set()

    upgrade_schema(sqlalchemy_url(pg_url))
    migrate = run_invoke("migrate", "--dry-run", "--sqlite", str(sqlite_path), environ=environ)
    _assert_clean(migrate)
    assert "$ PGPASSWORD=*** " in migrate.stdout  # the password never on the command line
    assert "--pg postgresql://cutover_app@127.0.0.1" in migrate.stdout
    assert "--dry-run" in migrate.stdout
    assert _row_count(pg_url, "users") == 0


def test_rollback_dry_run_counts_new_rows_and_changes_nothing(on_sqlite, pg_url, tmp_path):
    environ, cfg, sqlite_path = on_sqlite
    snapshot = back_up_sqlite_file(sqlite_path, cfg.path(cfg.snapshot_dir))
    upgrade_schema(sqlalchemy_url(pg_url))
    with contextlib.closing(psycopg2.connect(libpq_url(pg_url))) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (id, email, name, password_hash, is_admin, created_at) "
                    "VALUES (77, 'new@example.com', 'New', 'x', false, now())")
        conn.commit()
    write_env_file(cfg.path(cfg.api_env_file), postgres_env(pg_url, cfg))
    env_before = cfg.path(cfg.api_env_file).read_text()
    done = run_invoke("rollback", "--dry-run", "--snapshot", str(snapshot.path),
                      environ=environ)
    _assert_clean(done)
    assert "users: 1 row(s) not in the snapshot (id e.g. 77)" in done.stdout
    assert cfg.path(cfg.api_env_file).read_text() == env_before
    assert not read_flag(pg_url).enabled
    assert not (tmp_path / "export").exists()
