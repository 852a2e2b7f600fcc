"""``python -m sqlite_to_pg.cli --sqlite PATH --pg URL``: the data-only migration, end to end.

Preflight (read-only), load (one engine), sequences, verify — exit 0 only when verification
holds. ``scripts/migrate_sqlite_to_pg.sh`` execs this module; the Invoke task calls the script.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

from foundation.confirmation import NoTerminal, confirm
from foundation.database_urls import DatabaseUrlError, describe_database, libpq_url, redact_url
from sqlite_to_pg import engines
from sqlite_to_pg.catalog import Plan, open_source, read_plan
from sqlite_to_pg.constraints import take_snapshot
from sqlite_to_pg.copy_engine import pg_error_text
from sqlite_to_pg.domain_checks import domain_findings
from sqlite_to_pg.finding_categories import COERCIONS
from sqlite_to_pg.load_journal import repair_interrupted_load
from sqlite_to_pg.preflight import PreflightReport, run_preflight
from sqlite_to_pg.progress import Progress
from sqlite_to_pg.report import (
    build_report,
    format_findings,
    format_table,
    table_rows,
)
from sqlite_to_pg.row_hash import LEAST_SERVER_VERSION
from sqlite_to_pg.sequences import reset_sequences, restore_positions, sequence_positions
from sqlite_to_pg.type_table import pgloader_can_carry
from sqlite_to_pg.verify import verify

EXIT_OK = 0
EXIT_VERIFY_FAILED = 1
EXIT_USAGE = 2
EXIT_PREFLIGHT = 3
EXIT_LOAD_FAILED = 4
EXIT_REFUSED = 5

EPILOG = f"""\
exit codes:
  {EXIT_OK}  done and verified (or --dry-run with a clean preflight)
  {EXIT_VERIFY_FAILED}  verification failed: nothing kept (copy: rolled back, the target is as it
     was; pgloader: the loaded tables' earlier rows, sequences and keys put back)
  {EXIT_USAGE}  usage error, missing file, unreachable database, engine not available
  {EXIT_PREFLIGHT}  preflight found values Postgres would reject or change: nothing kept (what
     neither the load nor verify would catch is checked before the load, writing nothing;
     the rest, once the load refused a value and was undone, as for {EXIT_VERIFY_FAILED})
  {EXIT_LOAD_FAILED}  the load failed or was interrupted: copy rolls back (the target is as it
     was); pgloader puts back the rows, sequence positions and keys it saved in its journal,
     or, when it cannot (database down), says so and the next run does it before loading
  {EXIT_REFUSED}  the target tables hold rows and the truncation was not confirmed (--yes)

coercions (--allow-coercion NAME, each counted in the report):
""" + "\n".join(f"  {name}: {text}" for name, text in COERCIONS.items()) + """

Tables are matched by exact name (never case-folded); alembic_version and sqlite_* are never
copied. Date/time text without an offset is read as UTC. The SQLite file is opened read-only.
"""


class CliError(Exception):
    """An operator-facing error: printed without a traceback, with an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migrate_sqlite_to_pg.sh",
        description="Move every row of a SQLite file into PostgreSQL tables that Alembic "
                    "already created: preflight, load, sequences, verify.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", required=True, type=Path, metavar="PATH",
                        help="the SQLite database file (opened read-only)")
    parser.add_argument("--pg", required=True, metavar="URL",
                        help="target PostgreSQL URL (postgresql://user@host:port/db)")
    parser.add_argument("--engine", choices=sorted(engines.DEFAULT_ENGINES),
                        default=engines.default_engine_name(),
                        help="load engine (default: pgloader where installed, else copy; "
                             "here: %(default)s)")
    parser.add_argument("--dry-run", action="store_true",
                        help="preflight and print the plan only; write nothing")
    parser.add_argument("--yes", action="store_true",
                        help="do not ask before truncating target tables that hold rows")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--allow-coercion", action="append", default=[], metavar="NAME",
                        choices=sorted(COERCIONS),
                        help="opt into a named conversion (see below); repeatable")
    parser.add_argument("--schema", help="target schema (default: the connection's current)")
    return parser.parse_args(argv)


def _connect(pg_url: str):
    try:
        url = libpq_url(pg_url, source="--pg")
    except DatabaseUrlError as exc:  # names the wrong part, never the password
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        conn = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.Error as exc:
        raise CliError(f"cannot connect to {redact_url(pg_url)}: {pg_error_text(exc)}",
                       EXIT_USAGE) from exc
    if conn.server_version < LEAST_SERVER_VERSION:
        found = f"{conn.server_version // 10000}.{conn.server_version % 10000}"
        conn.close()
        raise CliError(f"{redact_url(pg_url)} runs PostgreSQL {found}; the migration needs 14 "
                       "or later (verify hashes rows with its hash_record_extended)", EXIT_USAGE)
    return conn


def read_state(args: argparse.Namespace) -> tuple[Plan, frozenset, dict[str, int]]:
    """(plan, constraint snapshot, table → rows it holds now), all read-only."""
    try:
        source = open_source(args.sqlite)
    except FileNotFoundError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    with contextlib.closing(source), contextlib.closing(_connect(args.pg)) as conn:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            plan = read_plan(source, cur, args.schema)
            snapshot = take_snapshot(cur, plan.schema)
            occupied = {}
            for table in plan.tables:
                cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
                    table.target.identifier))
                if cur.fetchone()[0]:  # counted only where there is something to count
                    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(
                        table.target.identifier))
                    occupied[table.name] = cur.fetchone()[0]
    return plan, snapshot, occupied


def repair_before_reading(args: argparse.Namespace, progress: Progress) -> None:
    """Undo what a killed earlier load left (journaled by the pgloader engine), for any engine."""
    with contextlib.closing(_connect(args.pg)) as conn:
        try:
            repair_interrupted_load(conn, progress.note, dry_run=args.dry_run)
        except engines.LoadFailed as exc:
            raise CliError(str(exc), EXIT_LOAD_FAILED) from exc
        except psycopg2.Error as exc:
            raise CliError(f"could not repair an interrupted load: {pg_error_text(exc)}",
                           EXIT_LOAD_FAILED) from exc


def confirm_truncation(occupied: dict[str, int], assume_yes: bool, target: str) -> None:
    """Ask before emptying tables that hold rows (naming the server, the database and how many
    rows would be discarded); refuse without a terminal or --yes."""
    if not occupied or assume_yes:
        return
    named = [f"{name} {rows:,}" for name, rows in occupied.items()]
    question = (f"{len(occupied)} target table(s) in {target} hold "
                f"{sum(occupied.values()):,} rows that the load would discard by truncating "
                f"them ({', '.join(named[:5])}{', …' if len(named) > 5 else ''}).")
    try:
        confirmed = confirm(f"{question} Continue?")
    except NoTerminal as exc:
        raise CliError(str(exc), EXIT_REFUSED) from None
    if not confirmed:
        raise CliError("not confirmed; nothing was written", EXIT_REFUSED)


def describe_plan(plan: Plan, preflight: PreflightReport, engine: str) -> str:
    lines = [f"plan ({engine} engine, schema {plan.schema}), tables in load order:"]
    lines += [f"  {table.name}: {preflight.row_counts.get(table.name, 0):,} rows, "
              f"{len(table.columns)} columns" for table in plan.tables]
    if plan.target_only:
        lines.append(f"  left as they are (not in the source): {', '.join(plan.target_only)}")
    return "\n".join(lines)


def refuse_what_pgloader_cannot_carry(plan: Plan) -> None:
    """Stop before any write when the plan has a column the pgloader engine cannot load."""
    reasons = [f"  {table.name}.{reason}" for table in plan.tables for column in table.columns
               if (reason := pgloader_can_carry(column))]
    if reasons:
        raise CliError("the pgloader engine cannot carry these columns exactly; nothing was "
                       "written:\n" + "\n".join(reasons), EXIT_PREFLIGHT)


class Run:
    """One migration run: holds what the report needs whatever way it ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.coercions = frozenset(args.allow_coercion)
        self.progress = Progress(quiet=args.quiet)
        self.preflight: PreflightReport | None = None
        self.result: engines.LoadResult | None = None
        self.messages: list[str] = []
        self.started = time.monotonic()

    def execute(self) -> int:
        args = self.args
        self.progress.note(f"source {args.sqlite} → target {redact_url(args.pg)}")
        repair_before_reading(args, self.progress)
        plan, snapshot, occupied = read_state(args)
        # A bad value stops the load or fails verify, which sees every value stored other
        # than as sent, and either engine then leaves the target as it was (the built-in one
        # rolls its one transaction back; pgloader stops on an error and its engine undoes the
        # load from its journal). So the load is preceded only by the checks neither can do,
        # and followed, if it fails, by the whole preflight, which names every problem.
        before_load = not args.dry_run
        self.preflight = self._preflight(plan, before_load)
        if before_load and not self.preflight.ok:  # refused anyway: name every problem
            self.preflight = self._preflight(plan, before_load=False)
        if self.preflight.findings:
            print(format_findings(self.preflight.findings))
        if not self.preflight.ok:
            raise CliError("preflight found problems (above); nothing was written",
                           EXIT_PREFLIGHT)
        if args.engine == "pgloader":
            refuse_what_pgloader_cannot_carry(plan)
        print(describe_plan(plan, self.preflight, args.engine))
        if args.dry_run:
            self.messages.append("dry run: nothing was written")
            print("dry run: preflight clean, nothing was written")
            return EXIT_OK
        confirm_truncation(occupied, args.yes, describe_database(args.pg))
        if self.coercions and args.engine != "copy":
            raise CliError("--allow-coercion needs --engine copy (pgloader cannot apply it)",
                           EXIT_USAGE)
        try:
            options = ({"coercions": self.coercions, "expected_rows": self.preflight.row_counts}
                       if args.engine == "copy" else {})
            engine = engines.get_engine(args.engine, **options)
        except engines.EngineUnavailable as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc

        def finish(conn):
            with conn.cursor() as cur:
                positions = sequence_positions(cur, [(plan.schema, name)
                                                     for name in plan.table_names])
                notices = reset_sequences(cur)
            self.messages.append(f"sequences reset: {len(notices)}")
            self.progress.note(f"sequences reset ({len(notices)}); verifying")
            verification = verify(plan, args.sqlite, conn, snapshot, coercions=self.coercions,
                                  progress=self.progress,
                                  source_checksums=getattr(engine, "source_checksums", None),
                                  known_targets=getattr(engine, "target_checksums", None))
            if not verification.ok:  # setval outlives a rollback: put the sequences back
                with conn.cursor() as cur:
                    restore_positions(cur, positions)
            return verification

        try:
            self.result = engine.load(plan, sqlite_path=args.sqlite, pg_url=args.pg,
                                      progress=self.progress, finish=finish)
        except engines.LoadFailed as exc:
            if before_load:
                self._name_what_the_load_refused(plan, f"the load failed: {exc}")
            raise CliError(f"load failed: {exc}", EXIT_LOAD_FAILED) from exc
        print(format_table(table_rows(self.result)))
        verification = self.result.verification
        for problem in verification.problems:
            print(f"verify: {problem}")
        if not (verification.ok and self.result.committed):
            if before_load:
                self._name_what_the_load_refused(plan, "verification failed")
            raise CliError("verification failed; the load was not kept (target as it was)",
                           EXIT_VERIFY_FAILED)
        print(f"done: {sum(t.rows for t in self.result.tables):,} rows in "
              f"{len(self.result.tables)} tables, verified "
              f"({time.monotonic() - self.started:.1f} s)")
        return EXIT_OK

    def _preflight(self, plan: Plan, before_load: bool) -> PreflightReport:
        args = self.args
        report = run_preflight(plan, args.sqlite, self.coercions, self.progress, pg_url=args.pg,
                               engine=args.engine, before_load=before_load)
        if not before_load:  # COPY refuses what a domain's CHECK does
            report.findings += domain_findings(plan, args.sqlite, lambda: _connect(args.pg),
                                               self.coercions)
        return report

    def _name_what_the_load_refused(self, plan: Plan, what_happened: str) -> None:
        """After a failed load (undone by its engine): the whole preflight; its findings, if
        any, are the error (exit 3), as if it had run first."""
        copy = self.args.engine == "copy"
        self.progress.note(f"{what_happened.split(':', 1)[0]} "
                           f"({'rolled back, nothing kept' if copy else 'undone by the engine'}); "
                           "running the whole preflight to name every value")
        full = self._preflight(plan, before_load=False)
        if full.ok:
            return
        self.preflight = full
        print(format_findings(full.findings))
        undone = ("it was rolled back: nothing was kept" if copy else
                  "the pgloader engine undid it from its journal (above: what it did)")
        raise CliError(f"preflight found problems (above) that the load refused ({what_happened})"
                       f"; {undone}", EXIT_PREFLIGHT)

    def write_report(self, code: int) -> None:
        if self.args.report is None:
            return
        status = "ok" if code == EXIT_OK else "failed"
        build_report(
            status=status, exit_code=code, sqlite_path=self.args.sqlite, pg_url=self.args.pg,
            engine=self.args.engine, preflight=self.preflight, result=self.result,
            messages=self.messages, seconds=time.monotonic() - self.started,
            dry_run=self.args.dry_run).write(self.args.report)


def main(argv: list[str] | None = None) -> int:
    """Run the migration; returns the exit code (see --help)."""
    args = parse_args(argv)
    run = Run(args)
    try:
        code = run.execute()
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        run.messages.append(str(exc))
        code = exc.code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was kept (a partial pgloader load is repaired by "
              "the next run)", file=sys.stderr)
        code = EXIT_LOAD_FAILED
    run.write_report(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
