"""Developer setup: from a fresh clone to a running API on SQLite (``dev``), the same API on a
local PostgreSQL (``dev-pg``), and ``stop-api``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg2
from psycopg2 import sql

from foundation.database_urls import libpq_url, with_database
from foundation.throwaway_postgres import wait_for_postgres
from runbook import api_process
from runbook.api_env_file import current_env, postgres_env, sqlite_env, sqlite_url
from runbook.config import RunbookConfig, config_from
from runbook.errors import runbook_task
from runbook.migrate import run_migration
from runbook.proxy import start_local_postgres
from runbook.rehearse import build_demo_sqlite
from runbook.repoint import repoint_api
from runbook.schema import upgrade_target_schema
from runbook.shell import Shell

DEV_ROWS = 500
LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEV_DATABASE = "booking_dev"


def ensure_dev_sqlite(shell: Shell, cfg: RunbookConfig, rows: int) -> Path:
    """The SQLite file at SQLITE_PATH: demo data when missing, then the schema at head."""
    path = cfg.path(cfg.sqlite_path)
    if path.exists():
        shell.say(f"using the existing SQLite file {path}")
    else:
        build_demo_sqlite(shell, path, rows)
    upgrade_target_schema(shell, cfg, sqlite_url(path))
    return path


def dev_env(cfg: RunbookConfig) -> dict[str, str]:
    """Settings a developer's API needs besides the database (kept when already set)."""
    defaults = {"ENVIRONMENT": "development",
                "UPLOAD_DIR": str(cfg.path(cfg.run_dir) / "uploads")}
    return {**defaults, **current_env(cfg)}


def local_dev_database(shell: Shell, cfg: RunbookConfig) -> str:
    """DB_URL when set (reused, or started with compose); else a database on the local server."""
    if cfg.target_url:
        start_local_postgres(shell, cfg)
        return cfg.target_url
    try:
        wait_for_postgres(LOCAL_ADMIN_URL, timeout=3)
    except TimeoutError:
        start_local_postgres(shell, cfg)  # no DB_URL: compose, or a message saying what to do
        return LOCAL_ADMIN_URL
    with contextlib.closing(psycopg2.connect(libpq_url(LOCAL_ADMIN_URL))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEV_DATABASE,))
            if cur.fetchone() is None:
                shell.say(f"creating database {DEV_DATABASE} on the local server")
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEV_DATABASE)))
    return with_database(LOCAL_ADMIN_URL, DEV_DATABASE)


_DEV_FLAGS = {
    "rows": "size of the demo database created when SQLITE_PATH does not exist yet",
    "workers": "uvicorn worker processes",
}


def _prepare(ctx, rows: int, workers: int) -> tuple[RunbookConfig, Shell, Path]:
    cfg = config_from(ctx).with_overrides(api_workers=workers)
    shell = Shell(assume_yes=True)
    return cfg, shell, ensure_dev_sqlite(shell, cfg, rows)


@runbook_task(help=_DEV_FLAGS)
def dev(ctx, rows: int = DEV_ROWS, workers: int = 1) -> None:
    """[dev] Fresh clone -> running API on SQLite (demo data, schema, env file, uvicorn)."""
    cfg, shell, path = _prepare(ctx, rows, workers)
    repoint_api(shell, cfg, {**dev_env(cfg), **sqlite_env(path)}, workers=workers)
    shell.say(f"API on SQLite at {cfg.api_url} (docs: {cfg.api_url}/docs); log in as "
              f"{cfg.smoke_email}; stop it with `invoke stop-api`")


@runbook_task(help=_DEV_FLAGS)
def dev_pg(ctx, rows: int = DEV_ROWS, workers: int = 1) -> None:
    """[dev] The developer API on a local PostgreSQL: schema, data from SQLite, restart."""
    cfg, shell, path = _prepare(ctx, rows, workers)
    target = local_dev_database(shell, cfg)
    upgrade_target_schema(shell, cfg, target)
    run_migration(shell, cfg, path, target)
    repoint_api(shell, cfg, {**dev_env(cfg), **postgres_env(target, cfg)}, workers=workers)
    shell.say(f"API on PostgreSQL at {cfg.api_url}; back to SQLite with `invoke dev`")


@runbook_task(help={})
def stop_api(ctx) -> None:
    """[dev] Stop the local API that dev / point-api / flip started."""
    cfg = config_from(ctx)
    stopped = api_process.stop_api(cfg)
    Shell().say("local API stopped" if stopped else "no local API was running")
