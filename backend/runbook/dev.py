"""Developer setup: from a fresh clone to a running API on SQLite (``dev``), the same API on a
local PostgreSQL (``dev-pg``), and ``stop-api``.

``dev-pg`` never uses ``DB_URL`` (the cutover target) or ``SQLALCHEMY_DATABASE_URL``: its server
is ``PG_TEST_URL``, else the local server at 127.0.0.1:5432, else ``compose/postgres.yml``, and
its database (``DEV_DATABASE``, default ``booking_dev``) is one it creates and marks as its own.
A database of that name it did not create is emptied only after a confirmation (or ``--yes``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg2
from psycopg2 import sql

from foundation.database_urls import libpq_url, redact_url, with_database
from foundation.database_variables import TEST_SERVER_URL
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
DEV_DATABASE_MARK = "created by invoke dev-pg (booking-cutover); dev-pg may empty it"


def ensure_dev_sqlite(shell: Shell, cfg: RunbookConfig, rows: int) -> Path:
    """The SQLite file at SQLITE_PATH: demo data (with the files behind its upload rows, in the
    API's UPLOAD_DIR) when missing, then the schema at head."""
    path = cfg.path(cfg.sqlite_path)
    if path.exists():
        shell.say(f"using the existing SQLite file {path} (its upload files stay as they are)")
    else:
        build_demo_sqlite(shell, path, rows, upload_dir=Path(dev_env(cfg)["UPLOAD_DIR"]))
    upgrade_target_schema(shell, cfg, sqlite_url(path))
    return path


def dev_env(cfg: RunbookConfig) -> dict[str, str]:
    """Settings a developer's API needs besides the database (kept when already set)."""
    defaults = {"ENVIRONMENT": "development",
                "UPLOAD_DIR": str(cfg.path(cfg.run_dir) / "uploads")}
    return {**defaults, **current_env(cfg)}


def dev_server(shell: Shell, cfg: RunbookConfig) -> str:
    """The server dev-pg works on: PG_TEST_URL, else 127.0.0.1:5432, else compose (never DB_URL)."""
    if cfg.sandbox_server_url:
        return libpq_url(cfg.sandbox_server_url, source=TEST_SERVER_URL)
    try:
        wait_for_postgres(LOCAL_ADMIN_URL, timeout=3)
    except TimeoutError:  # compose/postgres.yml, or a message saying what to do
        start_local_postgres(shell, cfg.model_copy(update={"target_url": None}))
    return LOCAL_ADMIN_URL


def local_dev_database(shell: Shell, cfg: RunbookConfig) -> tuple[str, bool]:
    """dev-pg's own database on the dev server, created and marked when missing.

    Returns its URL and whether dev-pg created it (only then may it be emptied without asking).
    """
    server, name = dev_server(shell, cfg), cfg.dev_database
    with contextlib.closing(psycopg2.connect(server)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                        "WHERE datname = %s", (name,))
            found = cur.fetchone()
            if found is None:
                shell.say(f"creating database {name} on {redact_url(server)}")
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                cur.execute(sql.SQL("COMMENT ON DATABASE {} IS %s").format(sql.Identifier(name)),
                            (DEV_DATABASE_MARK,))
    ours = found is None or found[0] == DEV_DATABASE_MARK
    if not ours:
        shell.say(f"database {name} on {redact_url(server)} was not created by dev-pg: loading "
                  "into it asks first (or pass --yes)")
    return with_database(server, name), ours


_DEV_FLAGS = {
    "rows": "size of the demo database created when SQLITE_PATH does not exist yet",
    "workers": "uvicorn worker processes",
}
_DEV_PG_FLAGS = {
    **_DEV_FLAGS,
    "yes": "empty and reload DEV_DATABASE without asking even when dev-pg did not create it",
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


@runbook_task(help=_DEV_PG_FLAGS)
def dev_pg(ctx, rows: int = DEV_ROWS, workers: int = 1, yes: bool = False) -> None:
    """[dev] The developer API on a local PostgreSQL database of its own (never DB_URL)."""
    cfg, shell, path = _prepare(ctx, rows, workers)
    target, ours = local_dev_database(shell, cfg)
    loading = Shell(assume_yes=ours or yes)  # --yes reaches the script only for its own database
    upgrade_target_schema(loading, cfg, target)
    run_migration(loading, cfg, path, target)
    repoint_api(shell, cfg, {**dev_env(cfg), **postgres_env(target, cfg)}, workers=workers)
    shell.say(f"API on PostgreSQL at {cfg.api_url}; back to SQLite with `invoke dev`")


@runbook_task(help={})
def stop_api(ctx) -> None:
    """[dev] Stop the local API that dev / point-api / flip started."""
    cfg = config_from(ctx)
    stopped = api_process.stop_api(cfg)
    Shell().say("local API stopped" if stopped else "no local API was running")
