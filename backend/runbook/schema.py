"""``schema``: ``alembic upgrade head`` against the target, showing current and head first."""

from __future__ import annotations

import contextlib
import sys

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from foundation.database_urls import redact_url, sqlalchemy_url
from foundation.database_variables import TARGET_URL
from runbook.config import PROJECT_ROOT, RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell


def head_revision(cfg: RunbookConfig) -> str:
    """The newest revision in the migrations directory."""
    script = ScriptDirectory.from_config(Config(str(cfg.path(cfg.alembic_ini))))
    head = script.get_current_head()
    if head is None:
        raise RunbookError("the Alembic migrations directory has no revisions")
    return head


def current_revision(url: str) -> str | None:
    """The revision stamped in the target database (None when it has no schema yet)."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with contextlib.closing(engine.connect()) as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise RunbookError(f"cannot read the schema revision of {redact_url(url)}: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


def upgrade_target_schema(shell: Shell, cfg: RunbookConfig, url: str) -> str:
    """Say current → head, upgrade when needed, and check the database is at head after."""
    head = head_revision(cfg)
    try:
        current = current_revision(url)
    except RunbookError as exc:
        if not shell.dry_run:
            raise
        shell.say(f"[dry-run] {exc}")
        current = "(unknown)"
    shell.say(f"schema of {redact_url(url)}: current {current or '(empty)'}, head {head}")
    if current == head:
        shell.say("already at head; nothing to do")
        return head
    shell.require_confirmation(f"apply migrations {current or 'base'} -> {head}?")
    shell.run([sys.executable, "-m", "alembic", "-c", str(cfg.alembic_ini), "upgrade", "head"],
              env={TARGET_URL: sqlalchemy_url(url)}, cwd=PROJECT_ROOT)
    if shell.dry_run:
        return head
    after = current_revision(url)
    if after != head:
        raise RunbookError(f"after the upgrade {redact_url(url)} is at {after}, not {head}")
    shell.say(f"schema ok: {redact_url(url)} is at head {head}")
    return head


@runbook_task(help={
    "pg": "target database URL (default: DB_URL)",
    "yes": "do not ask for confirmation",
    "dry_run": "show current and head revisions and the command; migrate nothing",
})
def schema(ctx, pg: str | None = None, yes: bool = False, dry_run: bool = False) -> None:
    """[rehearsal 2 / cutover 3] Apply the schema: alembic upgrade head (current/head shown)."""
    cfg = config_from(ctx)
    upgrade_target_schema(Shell(dry_run=dry_run, assume_yes=yes), cfg, cfg.require_target(pg))
