"""``rehearse``: the staging rehearsal end to end, with nothing configured.

Demo SQLite → throwaway PostgreSQL (Docker where an engine answers, else a temporary cluster
from the local binaries; ``PG_TEST_URL`` when set) → schema → migrate (the script) → verify →
the API on PostgreSQL (real uvicorn) → smoke → the online path on a copy of the same data
(``runbook.rehearse_online``, into a database of its own; ``--no-online`` skips it) → stop
everything → report (Markdown + JSON) with the window of both paths and the production
maintenance window estimated from the measured rate. ``--sqlite``/``--pg`` point it at staging
instead (``--online-pg``: a second staging database for the online path).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from foundation.database_urls import redact_url
from foundation.throwaway_postgres import create_database, drop_database, free_port, provide_server
from runbook import api_process
from runbook.api_env_file import postgres_env, write_env_file
from runbook.compose import docker_engine_status
from runbook.config import PROJECT_ROOT, RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.freeze import flag_settle_seconds
from runbook.migrate import run_migration
from runbook.rehearse_online import OnlineRehearsal, online_figures, rehearse_online
from runbook.repoint import check_connection_budget
from runbook.report import (
    RehearsalReport,
    estimate_window,
    findings_lines,
    single_window_figures,
    write_report,
)
from runbook.schema import upgrade_target_schema
from runbook.shell import Shell
from runbook.smoke import smoke_or_fail
from runbook.steps import StepRunner
from runbook.verify_uploads import verify_uploads_or_fail
from sqlite_to_pg.report import MigrationReport

DEFAULT_ROWS = 20_000  # about half a minute end to end on 2 cores
REHEARSAL_ROLE = "rehearsal_app"  # a non-superuser owner, as on Cloud SQL
UPLOAD_SAMPLE = 20  # uploads downloaded through the API on PostgreSQL and checked


@contextlib.contextmanager
def throwaway_databases(shell: Shell) -> Iterator[Callable[[], str]]:
    """A throwaway server; each call of what it yields creates a fresh database there, owned
    by a non-superuser role. Every database is removed after, then the server.

    Only ``PG_TEST_URL`` counts as an external server here: ``DB_URL`` names the cutover
    target, and a rehearsal never creates databases there.
    """
    environ = {"PG_TEST_URL": os.environ.get("PG_TEST_URL", "")}
    with provide_server(environ) as server:
        if server.kind == "cluster":
            shell.say(f"no Docker engine answers ({docker_engine_status().reason}); using a "
                      "temporary cluster from the local PostgreSQL binaries instead")
        shell.say(f"PostgreSQL: {server}")
        made: list[str] = []

        def new_database() -> str:
            made.append(create_database(server.url, owner=REHEARSAL_ROLE))
            return made[-1]

        try:
            yield new_database
        finally:
            for url in reversed(made):
                drop_database(server.url, url.rsplit("/", 1)[-1])


def build_demo_sqlite(shell: Shell, path: Path, rows: int, upload_dir: Path | None = None) -> None:
    """The demo database (``python -m app.demo_data``), with its upload files when asked."""
    files = ["--upload-dir", str(upload_dir)] if upload_dir is not None else []
    shell.run([sys.executable, "-m", "app.demo_data", "--out", str(path), "--rows", str(rows),
               *files], cwd=PROJECT_ROOT)


def verified_detail(migration: MigrationReport | None) -> str:
    """What the migration's own verify found (counts and checksums per table), as one line;
    ``RunbookError`` when it did not hold or the report is missing."""
    if migration is None:
        raise RunbookError("the migration wrote no report; nothing to verify against")
    if not migration.verified:
        failed = [f"{t.table}: {t.source_rows} rows in SQLite, {t.target_rows} in PostgreSQL, "
                  f"{t.verdict}" for t in migration.load.tables if t.verdict != "ok"]
        raise RunbookError("the migration's verification did not hold: "
                           + "; ".join(failed + migration.verification.problems))
    tables = migration.load.tables
    return (f"{sum(t.target_rows or 0 for t in tables)} rows in {len(tables)} tables, "
            "counts and checksums equal")


def _api_config(cfg: RunbookConfig, work: Path) -> RunbookConfig:
    """The rehearsal's own API: a free port, files in the work directory."""
    return cfg.with_overrides(api_url=f"http://127.0.0.1:{free_port()}", run_dir=work,
                              api_env_file=work / "api.env")


def _start_api(shell: Shell, cfg: RunbookConfig, target: str, upload_dir: Path,
               cleanup: contextlib.ExitStack) -> str:
    check_connection_budget(shell, cfg, target, cfg.api_workers, force=False)
    env = {**postgres_env(target, cfg), "UPLOAD_DIR": str(upload_dir)}
    write_env_file(cfg.path(cfg.api_env_file), env)  # what smoke's clean-up reads
    started = api_process.start_api(cfg, env)
    cleanup.callback(api_process.stop_api, cfg)
    return f"{cfg.api_workers} workers at {started.base_url}"


def _online_target(pg: str | None, online_pg: str | None,
                   databases: Callable[[], str] | None) -> tuple[Callable[[], str] | None, str]:
    """Where the online part loads (a callable giving the URL), or why it cannot run."""
    if online_pg:
        return (lambda: online_pg), ""
    if databases is not None:
        return databases, ""
    return None, (f"--pg {redact_url(pg or '')} names one database and the rehearsal creates "
                  "none on staging: pass --online-pg URL (a second, empty database)")


def run_rehearsal(shell: Shell, cfg: RunbookConfig, *, rows: int, sqlite: Path | None,
                  pg: str | None, production_bytes: int | None, report_dir: Path,
                  engine: str | None = None, upload_dir: Path | None = None,
                  online: bool = True, online_pg: str | None = None
                  ) -> tuple[RehearsalReport, Path]:
    """Run every step, always stop what was started and write the report; return both.

    The API serves uploads from ``upload_dir`` (with ``--sqlite``), else from the demo data's
    own files; a sample of them is downloaded and checked against its rows. ``online``: then
    rehearse the online path on a copy of the source (into ``online_pg``, else a database of
    its own on the throwaway server)."""
    report = RehearsalReport(started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                             source=str(sqlite or f"demo data ({rows} rows)"),
                             target=redact_url(pg) if pg else "throwaway PostgreSQL")
    steps = StepRunner(shell, report.steps)
    with tempfile.TemporaryDirectory(prefix="rehearse-") as tmp:
        work = Path(tmp)
        source = sqlite or work / "demo.sqlite"
        migration_report = work / "migration.json"
        files = upload_dir or work / "uploads"
        api_cfg = _api_config(cfg, work)
        online_done = OnlineRehearsal()
        try:
            with contextlib.ExitStack() as cleanup:
                if sqlite is None:
                    with steps.step("build demo SQLite") as record:
                        build_demo_sqlite(shell, source, rows, upload_dir=files)
                        record.detail = f"{source.stat().st_size / 1e6:.2f} MB"
                with steps.step("start PostgreSQL") as record:
                    databases = None if pg else cleanup.enter_context(throwaway_databases(shell))
                    target = pg or databases()
                    record.detail = redact_url(target)
                with steps.step("schema"):
                    upgrade_target_schema(shell, cfg, target)
                with steps.step("migrate") as record:
                    report.migration = run_migration(shell, cfg, source, target,
                                                     engine=engine, report=migration_report)
                    record.detail = f"engine {report.migration.engine if report.migration else '?'}"
                with steps.step("verify") as record:
                    record.detail = verified_detail(report.migration)
                with steps.step("start API on PostgreSQL") as record:
                    record.detail = _start_api(shell, api_cfg, target, files, cleanup)
                with steps.step("smoke") as record:
                    report.smoke = smoke_or_fail(shell, api_cfg)
                    record.detail = f"{len(report.smoke)} checks passed"
                with steps.step("uploads") as record:
                    if sqlite is not None and upload_dir is None:
                        record.detail = "not checked: pass --upload-dir with --sqlite"
                    else:
                        checked = verify_uploads_or_fail(shell, api_cfg, sample=UPLOAD_SAMPLE)
                        record.detail = f"{checked} file(s) match their rows (size, sha256)"
                new_target, online_done.skipped = _online_target(pg, online_pg, databases)
                if not online:
                    online_done.skipped = "--no-online"
                elif new_target is not None:
                    rehearse_online(Shell(assume_yes=True, out=shell.out), cfg, steps,
                                    source=source, new_target=new_target, upload_dir=files,
                                    check_uploads=sqlite is None or upload_dir is not None,
                                    work=work / "online", cleanup=cleanup, done=online_done)
                with steps.step("stop what the rehearsal started"):
                    cleanup.close()
            report.ok = True
        finally:
            report.findings = findings_lines(report.migration)
            report.window = estimate_window(report, source.stat().st_size if source.exists()
                                            else 0, report.step_seconds("migrate"),
                                            production_bytes)
            report.windows = [single_window_figures(report, 2 * flag_settle_seconds(api_cfg)),
                              online_figures(online_done)]
            json_path, md_path = write_report(report, report_dir)
            shell.say(f"\nreport: {md_path}\n        {json_path}")
    return report, md_path


def production_size(prod_sqlite: str | None, prod_size_mb: float | None) -> int | None:
    if prod_sqlite:
        path = Path(prod_sqlite)
        if not path.is_file():
            raise RunbookError(f"--prod-sqlite {path}: no such file")
        return path.stat().st_size
    return int(float(prod_size_mb) * 1e6) if prod_size_mb else None


@runbook_task(help={
    "rows": "size of the demo database to build (ignored with --sqlite)",
    "sqlite": "rehearse with this SQLite file (e.g. a staging copy) instead of demo data",
    "pg": "rehearse against this (staging) PostgreSQL instead of a throwaway one",
    "prod_sqlite": "the production SQLite file, to estimate the maintenance window from its size",
    "prod_size_mb": "or the production file's size in MB",
    "report_dir": "where to write the Markdown + JSON report (default: REPORT_DIR)",
    "engine": "migration engine for the script (default: the script's own choice)",
    "yes": "with --pg: let the rehearsal replace the staging database's rows without asking",
    "upload_dir": "with --sqlite: its uploads folder (UPLOAD_DIR), to check a sample of them",
    "online": "also rehearse the online path (capture, precopy, a round, the online window) on "
              "a copy of the data; --no-online skips it",
    "online_pg": "with --pg: a second (staging) database for the online path",
})
def rehearse(ctx, rows: int = DEFAULT_ROWS, sqlite: str | None = None, pg: str | None = None,
             prod_sqlite: str | None = None, prod_size_mb: float | None = None,
             report_dir: str | None = None, engine: str | None = None, yes: bool = False,
             upload_dir: str | None = None, online: bool = True,
             online_pg: str | None = None) -> None:
    """[rehearsal] The whole staging rehearsal (steps 1-5, both cutover paths); a report."""
    cfg = config_from(ctx).with_overrides(report_dir=report_dir)
    shell = Shell(assume_yes=yes or pg is None and online_pg is None)
    replaced = [redact_url(url) for url in (pg, online_pg if online else None) if url]
    if replaced:
        shell.require_confirmation(f"the rehearsal replaces every row of the app's tables in "
                                   f"{' and '.join(replaced)}; continue?")
    report, md_path = run_rehearsal(
        shell, cfg, rows=rows, sqlite=Path(sqlite).resolve() if sqlite else None, pg=pg,
        production_bytes=production_size(prod_sqlite, prod_size_mb),
        report_dir=cfg.path(cfg.report_dir), engine=engine,
        upload_dir=Path(upload_dir).resolve() if upload_dir else None, online=online,
        online_pg=online_pg)
    shell.say(f"rehearsal {'PASSED' if report.ok else 'FAILED'}: {md_path}")
