"""The pgloader engine: the same outcome as the one-transaction copy engine, by other means.

pgloader commits each table on a connection of its own, loads tables in parallel and exits 0
with rows rejected, so this engine never trusts it; it brackets it instead:

1. under an advisory lock, finish any interrupted earlier run (see ``sqlite_to_pg.load_journal``);
2. save every foreign key touching the planned tables, a copy of the rows those tables hold and
   their sequences' positions in a journal in the target (committed), then drop those keys and
   truncate the tables (one transaction);
3. run pgloader on scripts/migrate.load (data only, quoted identifiers, no key handling, no
   sequence reset, exactly the planned tables, on error stop), streaming its progress;
4. recount every table on both sides; if pgloader failed, was killed, or any count differs:
   truncate the tables, put their earlier rows and sequence positions back, re-add the keys and
   fail naming the tables (the target is then as it was, rows included);
5. otherwise, in one transaction: re-add the keys from the saved definitions, call the
   caller's ``finish`` (sequence reset + the same verification as every engine) and, only when
   it says ok, drop the journal and commit; when it does not, clean up as in 4. While the
   keys are re-added, a second connection checksums the loaded tables for verify
   (``target_checksums_beside``).

Everything runs as the role that owns the tables: no superuser, no ``disable triggers``.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from foundation.database_urls import libpq_url, redact_text
from sqlite_to_pg import load_journal
from sqlite_to_pg.catalog import Plan, open_source, quote_sqlite
from sqlite_to_pg.constraints import (
    SavedForeignKey,
    add_foreign_keys,
    drop_foreign_keys,
    save_foreign_keys,
)
from sqlite_to_pg.early_checksums import hash_while_loading
from sqlite_to_pg.engines import FinishStep, LoadFailed, LoadResult, TableLoad
from sqlite_to_pg.load_journal import load_lock, recover_interrupted_run, truncate
from sqlite_to_pg.pgloader_command import (
    DEFAULT_WORKERS,
    PgloaderRun,
    PgloaderUnavailable,
    command_for_display,
    pgloader_environment,
    pgloader_path,
    run_pgloader,
    safe_source_path,
    unquote_identifier,
)
from sqlite_to_pg.pgloader_progress import CopyProgress
from sqlite_to_pg.progress import Progress
from sqlite_to_pg.source_checksums import SourceChecksums
from sqlite_to_pg.target_checksums_beside import TargetChecksumsBeside

_COPY_CONTEXT = re.compile(r"CONTEXT: COPY (?P<table>\S+?),")
_COPY_STARTED = re.compile(r'NOTICE COPY (?P<table>"(?:[^"]|"")*") with')

Report = Callable[[str], None]


@dataclass
class TableCount:
    """Rows of one table: in the source, as pgloader reported them, in the target afterwards."""

    table: str
    source_rows: int
    target_rows: int
    pgloader_read: int | None = None
    pgloader_imported: int | None = None
    pgloader_errors: int | None = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.target_rows == self.source_rows and not self.pgloader_errors


def _source_counts(sqlite_path: Path, plan: Plan) -> dict[str, int]:
    with contextlib.closing(open_source(sqlite_path)) as source:
        return {table.name: source.execute(
            f"SELECT count(*) FROM {quote_sqlite(table.source.name)}").fetchone()[0]
            for table in plan.tables}


def _target_counts(conn: Connection, plan: Plan) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cur:
        for table in plan.tables:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table.target.identifier))
            counts[table.name] = cur.fetchone()[0]
    conn.commit()
    return counts


def _errors_by_table(run: PgloaderRun) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in run.errors:
        match = _COPY_CONTEXT.search(error)
        found.setdefault(match["table"] if match else "", []).append(error)
    return found


def count_tables(run: PgloaderRun, source: dict[str, int],
                 target: dict[str, int]) -> list[TableCount]:
    """Join pgloader's summary with our own counts of both sides, table by table."""
    counts = []
    for name, source_rows in source.items():
        summary = run.tables.get(name)
        counts.append(TableCount(
            table=name, source_rows=source_rows, target_rows=target.get(name, 0),
            pgloader_read=summary.read if summary else None,
            pgloader_imported=summary.imported if summary else None,
            pgloader_errors=summary.errors if summary else None,
            seconds=summary.seconds if summary else 0.0))
    return counts


def failure_message(run: PgloaderRun, counts: list[TableCount]) -> str:
    """Why this load cannot stand, naming every incomplete table ("" when it can)."""
    errors = _errors_by_table(run)
    lines = []
    for count in counts:
        if count.complete:
            continue
        detail = f"{count.table}: {count.target_rows} of {count.source_rows} rows in the target"
        if count.pgloader_errors:
            detail += f", pgloader reported {count.pgloader_errors} error(s)"
        if count.pgloader_read is not None and count.pgloader_read != count.source_rows:
            detail += f", pgloader read {count.pgloader_read} rows"
        for error in errors.get(count.table, [])[:2]:
            detail += f"; {error}"
        lines.append(detail)
    general = run.describe_failure() if run.returncode != 0 else "; ".join(errors.get("", [])[:3])
    if general and (lines or run.returncode != 0):
        lines.insert(0, general)
    return "\n".join(lines)


class _PgloaderProgress:
    """pgloader's run shown on a ``Progress``: one bar over all tables (they load in parallel),
    a line per table starting or failing, then one line per table with its rows and seconds."""

    def __init__(self, progress: Progress, totals: dict[str, int]) -> None:
        self.progress = progress
        self.totals = totals
        self._done: dict[str, int] = {}

    def start(self) -> None:
        self.progress.start_table(f"{len(self.totals)} tables (pgloader)",
                                  sum(self.totals.values()))

    def line(self, line: str) -> None:
        match = _COPY_STARTED.search(line)
        if match and not self.progress.tty:  # on a terminal the bar shows it
            table = unquote_identifier(match["table"])
            self.progress.note(f"{table}: loading {self.totals.get(table, 0):,} rows (pgloader)")
        elif " ERROR " in line or line.startswith("CONTEXT:"):
            self.progress.note(f"pgloader: {line.split(' ', 1)[-1]}")

    def rows(self, table: str, done: int, _total: int) -> None:
        self.progress.advance(done - self._done.get(table, 0))
        self._done[table] = done

    def tables(self, counts: list[TableCount], seconds: float) -> None:
        self.progress.finish_table(sum(count.target_rows for count in counts), seconds)
        for count in counts:
            self.progress.note(f"  {count.table}: {count.target_rows:,} rows "
                               f"in {count.seconds:.2f} s")


class PgloaderEngine:
    """The ``pgloader`` engine (see the module docstring); runs as the tables' owner."""

    name = "pgloader"

    def __init__(self, *, workers: int = DEFAULT_WORKERS,
                 on_pgloader_start: Callable[[subprocess.Popen], None] | None = None) -> None:
        pgloader_path()  # EngineUnavailable now, before anything is planned around it
        self.workers = workers
        self.on_pgloader_start = on_pgloader_start
        self.source_checksums: SourceChecksums | None = None  # hashed while pgloader runs
        # the target's (rows, checksum) per table, taken beside the keys' re-adding
        self.target_checksums: dict[str, tuple[int, int]] | None = None

    def load(self, plan: Plan, *, sqlite_path: Path, pg_url: str, progress: Progress,
             finish: FinishStep) -> LoadResult:
        """Load every table of ``plan`` with pgloader, then ``finish``; see the module docstring.

        Raises LoadFailed (the target left as it was) when pgloader fails, is killed, or any
        table's count differs; returns ``committed=False`` (target cleaned up) when ``finish``
        says the result is not ok.
        """
        started = time.monotonic()
        sqlite_path = Path(sqlite_path)
        totals = _source_counts(sqlite_path, plan)
        try:
            conn = psycopg2.connect(libpq_url(pg_url), application_name="cutover-pgloader-engine")
        except psycopg2.Error as exc:
            raise LoadFailed(redact_text(f"cannot connect: {exc}".strip())) from exc
        with contextlib.closing(conn), load_lock(conn), \
                safe_source_path(sqlite_path) as source_link:
            try:
                environment = pgloader_environment(
                    source_link, pg_url, plan.schema, [table.source.name for table in plan.tables],
                    workers=self.workers)
            except PgloaderUnavailable as exc:
                raise LoadFailed(f"{exc} (nothing was written)") from exc
            try:
                recover_interrupted_run(conn, progress.note)
                keys = self._prepare(conn, plan, progress)
                with hash_while_loading(sqlite_path, plan, pg_url) as self.source_checksums:
                    counts = self._run(conn, plan, pg_url, environment, totals, progress)
                    recounted = {count.table: count.target_rows for count in counts}
                    result = self._finish(conn, keys, finish, progress,
                                          TargetChecksumsBeside(pg_url, plan, recounted))
            except BaseException as exc:
                outcome = ("the target was left as it was" if _clean_up(conn, progress.note)
                           else "the clean-up cannot run now: the next run repairs the target "
                                "before anything else")
                if isinstance(exc, LoadFailed):
                    raise LoadFailed(f"{exc}\n({outcome})") from exc
                if isinstance(exc, psycopg2.Error):
                    raise LoadFailed(redact_text(f"pgloader engine: {exc}".strip()) +
                                     f"\n({outcome})") from exc
                raise
        result.tables = [TableLoad(c.table, c.target_rows, c.seconds) for c in counts]
        result.seconds = time.monotonic() - started
        return result

    @staticmethod
    def _prepare(conn: Connection, plan: Plan, progress: Progress) -> list[SavedForeignKey]:
        tables = [(table.target.schema, table.name) for table in plan.tables]
        with conn.cursor() as cur:
            keys = save_foreign_keys(cur, plan.schema, plan.table_names)
        conn.commit()
        saved_rows = load_journal.write_journal(conn, tables, keys)
        with conn.cursor() as cur:
            drop_foreign_keys(cur, keys)
            truncate(cur, tables)
        conn.commit()
        kept = "".join(f"; kept the {saved.rows} row(s) {saved.table} held"
                       for saved in saved_rows)
        progress.note(f"saved and dropped {len(keys)} foreign keys (journal in schema "
                      f"{load_journal.JOURNAL_SCHEMA}){kept}; emptied {len(tables)} tables")
        return keys

    def _run(self, conn: Connection, plan: Plan, pg_url: str, environment: dict[str, str],
             totals: dict[str, int], progress: Progress) -> list[TableCount]:
        shown = _PgloaderProgress(progress, totals)
        progress.note(f"running: {command_for_display()}")
        started = time.monotonic()
        shown.start()
        with CopyProgress(pg_url, plan, totals, shown.rows):
            run = run_pgloader(environment, on_line=shown.line, on_start=self.on_pgloader_start)
        counts = count_tables(run, totals, _target_counts(conn, plan))
        problem = failure_message(run, counts)
        if problem:
            raise LoadFailed(f"pgloader did not load every row:\n{problem}")
        shown.tables(counts, time.monotonic() - started)
        return counts

    def _finish(self, conn: Connection, keys: list[SavedForeignKey], finish: FinishStep,
                progress: Progress, beside: TargetChecksumsBeside) -> LoadResult:
        with beside, conn.cursor() as cur:  # the checksums on a second connection meanwhile
            add_foreign_keys(cur, keys, on_each=lambda key: progress.note(
                f"re-adding foreign key {key.table}.{key.name}"))
            self.target_checksums = beside.usable()
        verification = finish(conn)
        result = LoadResult(engine=PgloaderEngine.name, verification=verification)
        if not getattr(verification, "ok", False):
            conn.rollback()
            _clean_up(conn, progress.note)
            result.notes.append("verification failed: the loaded rows were removed again")
            return result
        load_journal.drop_journal(conn)
        conn.commit()
        result.committed = True
        return result


def _clean_up(conn: Connection, report: Report) -> bool:
    """Empty the loaded tables and restore the keys from the journal; False if it cannot now."""
    try:
        conn.rollback()
        journal = load_journal.read_journal(conn)
        if journal is not None:
            load_journal.restore_from_journal(conn, journal)
            report(f"cleaned up: emptied {len(journal.tables)} tables, "
                   f"restored {len(journal.keys)} foreign keys"
                   + (f"; {journal.saved_summary()}" if journal.saved else ""))
        return True
    except psycopg2.Error as exc:
        report(redact_text(f"could not clean up now ({exc}".strip() + "); the journal stays "
                           "in the target and the next run restores it first"))
        return False
