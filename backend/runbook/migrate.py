"""``migrate``: the data move, by calling ``scripts/migrate_sqlite_to_pg.sh`` with the same flags.

The script owns the work (preflight, load, sequences, verification) and exits 0 only when the
target is verified; this task echoes it (password redacted) and reads its JSON report.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from foundation.database_urls import parse_url
from runbook.config import PROJECT_ROOT, RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell
from sqlite_to_pg.report import MigrationReport


def migrate_command(cfg: RunbookConfig, sqlite: Path, pg: str, *, engine: str | None = None,
                    report: Path | None = None, dry_run: bool = False, yes: bool = False,
                    quiet: bool = False) -> list[str]:
    """The script's command line; flags map one-to-one to the task's."""
    script = cfg.path(cfg.migrate_script)
    if not script.is_file():
        raise RunbookError(f"the migration script {script} is missing from this checkout")
    command = [str(script), "--sqlite", str(sqlite), "--pg", pg]
    command += ["--engine", engine] if engine else []
    command += ["--report", str(report)] if report else []
    command += [flag for flag, wanted in (("--dry-run", dry_run), ("--yes", yes),
                                          ("--quiet", quiet)) if wanted]
    return command


def split_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the password as ``PGPASSWORD`` for libpq/pgloader,
    so that it never appears on a command line (``ps``) or in the echo."""
    parsed = parse_url(url, source="the target URL (--pg or DB_URL)")
    if parsed.password is None:
        return url, {}
    bare = parsed._replace(password=None).render_as_string(hide_password=False)
    return bare, {"PGPASSWORD": str(parsed.password)}


def run_migration(shell: Shell, cfg: RunbookConfig, sqlite: Path, pg: str, *,
                  engine: str | None = None, report: Path | None = None,
                  quiet: bool = False, preflight_in_dry_run: bool = True,
                  truncate_confirmed: bool | None = None) -> MigrationReport | None:
    """Run the script; return its report (typed) when ``report`` is given.

    In a dry run the script's own ``--dry-run`` (preflight only, nothing written) runs when
    ``preflight_in_dry_run``; otherwise the command is only printed. The script gets ``--yes``
    (empty target tables that hold rows without asking) only when ``truncate_confirmed``
    (default: the shell's ``--yes``); otherwise it asks on the terminal, naming the server, the
    database and the rows it would discard, or refuses without one.
    """
    if not sqlite.is_file():
        raise RunbookError(f"no SQLite file at {sqlite} (pass --sqlite or set SQLITE_PATH)")
    bare_url, secret_env = split_password(pg)
    command = migrate_command(cfg, sqlite, bare_url, engine=engine, report=report,
                              dry_run=shell.dry_run, quiet=quiet,
                              yes=shell.assume_yes if truncate_confirmed is None
                              else truncate_confirmed)
    # the script runs the interpreter the runbook runs in (a venv need not be activated)
    interpreter = {"PYTHON": os.environ.get("PYTHON") or sys.executable}
    shell.run(command, env={**secret_env, **interpreter}, cwd=PROJECT_ROOT,
              always=preflight_in_dry_run)
    if report is None or not report.is_file():
        return None
    return MigrationReport.read(report)


@runbook_task(help={
    "sqlite": "absolute path of the SQLite file to migrate (default: SQLITE_PATH)",
    "pg": "target PostgreSQL URL (default: DB_URL)",
    "engine": "loader engine passed to the script (see its --help)",
    "report": "write the script's JSON report to this file",
    "quiet": "less progress output from the script",
    "yes": "let the script truncate the target tables without asking",
    "dry_run": "the script's dry run: preflight only, nothing written",
})
def migrate(ctx, sqlite: str | None = None, pg: str | None = None, engine: str | None = None,
            report: str | None = None, quiet: bool = False, yes: bool = False,
            dry_run: bool = False) -> None:
    """[rehearsal 3 / cutover 4] Move the data: scripts/migrate_sqlite_to_pg.sh, then verify."""
    cfg = config_from(ctx).with_overrides(sqlite_path=sqlite)
    shell = Shell(dry_run=dry_run, assume_yes=yes)
    run_migration(shell, cfg, cfg.path(cfg.sqlite_path), cfg.require_target(pg), engine=engine,
                  report=Path(report) if report else None, quiet=quiet)
