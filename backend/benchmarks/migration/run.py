"""The migration benchmark: ``python -m benchmarks.migration [--rows N] [--keep]`` (nox -s bench).

On one PostgreSQL server (PG_TEST_URL/DB_URL, else a temporary cluster), from one booking-shaped
SQLite file of about N rows, each step loads a fresh database that Alembic made and is measured
as a child process (wall seconds, peak RSS of its process tree):

* the physical limit: ``psql \\copy`` of CSV files exported beforehand (untimed), with the
  foreign keys dropped during the load and re-added (one transaction), and with them in place;
* the pgloader engine (scripts/migrate.load, with its journal, recount and key re-add);
* the built-in copy engine;
* the migration command end to end (scripts/migrate_sqlite_to_pg.sh --engine copy: preflight,
  load, sequences, and the verify that reuses the hashes the load took while streaming), with
  its JSON report's verify and load seconds;
* preflight alone, against an empty target;
* verify alone, re-reading SQLite, on the databases the two engines loaded.

The engine rows reset sequences but do not verify (verify is measured on its own). Prints one
table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

from benchmarks.migration.data import apply_schema, build_sqlite
from benchmarks.migration.measure import Measurement, measure
from foundation.database_urls import libpq_url, redact_text, sqlalchemy_url
from foundation.throwaway_postgres import create_database, drop_database, provide_server
from sqlite_to_pg.catalog import Plan, open_source, quote_sqlite, read_plan
from sqlite_to_pg.constraints import save_foreign_keys

DEFAULT_ROWS = 2_000_000
OWNER = "cutover_app"  # a non-superuser role owning each benchmark database
MIGRATE_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "migrate_sqlite_to_pg.sh"
TARGETS = {"built-in loader ≥ limit ×": 0.9, "verify ≤ load ×": 0.5, "peak RSS MB <": 150}


@dataclass
class Step:
    """One row of the result table."""

    name: str
    measurement: Measurement
    rows: int
    note: str = ""
    versus_limit: bool = True  # a load, compared with the psql limit; checks are not

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.measurement.seconds if self.measurement.seconds else 0.0


def split_password(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without its password, and an environment carrying it as PGPASSWORD."""
    parsed = make_url(libpq_url(url))
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), environment


def read_bench_plan(sqlite_path: Path, pg_url: str) -> Plan:
    """The catalog's plan for the benchmark source and one target database."""
    with contextlib.closing(open_source(sqlite_path)) as source, \
            contextlib.closing(psycopg2.connect(libpq_url(pg_url))) as conn, conn.cursor() as cur:
        return read_plan(source, cur)


def csv_field(value: object) -> str:
    """One CSV field as Postgres reads it: NULL unquoted-empty, text quoted, blobs as \\x hex."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return f'"\\x{value.hex()}"'
    return '"' + str(value).replace('"', '""') + '"'


def export_csv(sqlite_path: Path, plan: Plan, directory: Path) -> dict[str, Path]:
    """One CSV per planned table as Postgres reads it (NULL unquoted-empty, blobs as \\x hex)."""
    files = {}
    with contextlib.closing(open_source(sqlite_path)) as source:
        for table in plan.tables:
            path = directory / f"{table.name}.csv"
            names = ", ".join(quote_sqlite(name) for name in table.column_names)
            with path.open("w", encoding="utf-8") as handle:
                for row in source.execute(f"SELECT {names} FROM {quote_sqlite(table.source.name)}"):
                    handle.write(",".join(map(csv_field, row)) + "\n")
            files[table.name] = path
    return files


def psql_script(conn, plan: Plan, files: dict[str, Path], keys: list, *, drop_keys: bool) -> str:
    """The psql script of the limit: \\copy every table, keys dropped and re-added or kept."""
    lines = [r"\set ON_ERROR_STOP on", "SET TimeZone = 'UTC';"]
    if drop_keys:
        lines += [key.drop_sql().as_string(conn) + ";" for key in keys]
    for table in plan.tables:
        columns = ", ".join(f'"{name}"' for name in table.column_names)
        lines.append(f'\\copy "{table.target.schema}"."{table.name}" ({columns}) '
                     f"FROM '{files[table.name]}' WITH (FORMAT csv)")
    if drop_keys:
        lines += [key.add_sql().as_string(conn) + ";" for key in keys]
    return "\n".join(lines) + "\n"


class Bench:
    """One benchmark run on one server: fresh databases, measured steps, a table at the end."""

    def __init__(self, admin_url: str, workdir: Path, rows: int, keep: bool,
                 log: Callable[[str], None]) -> None:
        self.admin_url = admin_url
        self.workdir = workdir
        self.rows = rows
        self.keep = keep
        self.log = log
        self.sqlite_path = workdir / f"booking-{rows}.sqlite"
        self.databases: list[str] = []
        self.steps: list[Step] = []
        self.total_rows = 0

    def fresh_database(self) -> str:
        """A new database owned by the non-superuser role, with Alembic's schema; its URL."""
        url = create_database(self.admin_url, owner=OWNER)
        self.databases.append(url)
        apply_schema(sqlalchemy_url(url))
        return url

    def drop_databases(self) -> None:
        """Drop every database this run created."""
        for url in self.databases:
            drop_database(self.admin_url, make_url(url).database)

    def record(self, name: str, measurement: Measurement, *, versus_limit: bool = True) -> Step:
        """Keep a measured step for the table; a failed step stops the run with its stderr."""
        if measurement.returncode != 0:
            output = (measurement.stderr.strip() or measurement.stdout.strip())[-2000:]
            raise RuntimeError(f"{name} failed ({measurement.returncode}): {redact_text(output)}")
        step = Step(name, measurement, self.total_rows, versus_limit=versus_limit)
        self.steps.append(step)
        self.log(f"  {name}: {measurement.seconds:.1f} s, {measurement.peak_rss_mb:.0f} MB")
        return step

    def run(self) -> None:
        """Build (or reuse) the source, export the CSVs, then measure every step in turn."""
        if self.sqlite_path.exists():
            self.log(f"reusing {self.sqlite_path}")
        else:
            self.log(f"building {self.sqlite_path} (~{self.rows:,} rows)")
            build_sqlite(self.sqlite_path, self.rows, log=self.log)
        plan_url = self.fresh_database()
        plan = read_bench_plan(self.sqlite_path, plan_url)
        with contextlib.closing(open_source(self.sqlite_path)) as source:
            self.total_rows = sum(source.execute(
                f"SELECT count(*) FROM {quote_sqlite(t.source.name)}").fetchone()[0]
                for t in plan.tables)
        self.log(f"exporting CSV for the psql limit ({self.total_rows:,} rows, untimed)")
        files = export_csv(self.sqlite_path, plan, self.workdir)
        with contextlib.closing(psycopg2.connect(libpq_url(plan_url))) as conn:
            with conn.cursor() as cur:
                keys = save_foreign_keys(cur, plan.schema, plan.table_names)
            scripts = {drop: psql_script(conn, plan, files, keys, drop_keys=drop)
                       for drop in (True, False)}
        self._psql("psql \\copy, keys dropped + re-added", scripts[True], "dropped")
        self._psql("psql \\copy, keys in place", scripts[False], "kept")
        loaded = {engine: self._engine(engine) for engine in ("pgloader", "copy")}
        self._migration_command()
        self.log("preflight alone …")
        self._child("preflight alone", "preflight", plan_url, versus_limit=False)
        for engine, (url, load_seconds) in loaded.items():
            self.log(f"verify alone ({engine}-loaded db) …")
            step = self._child(f"verify alone, re-reading SQLite ({engine}-loaded db)", "verify",
                               url, versus_limit=False)
            step.note += f"; {step.measurement.seconds / load_seconds:.2f}× the {engine} load"

    def _psql(self, name: str, script_text: str, label: str) -> None:
        url, environment = split_password(self.fresh_database())
        script = self.workdir / f"limit-{label}.sql"
        script.write_text(script_text)
        self.log(f"{name} …")
        self.record(name, measure(["psql", "-X", "-q", "-1", "-f", str(script), "-d", url],
                                  env=environment))

    def _engine(self, engine: str) -> tuple[str, float]:
        """Load a fresh database with one engine; its URL and the step's wall seconds."""
        url = self.fresh_database()
        self.log(f"{engine} engine …")
        step = self._child(f"{engine} engine", engine, url)
        return url, step.measurement.seconds

    def _migration_command(self) -> None:
        """The real migration command on a fresh database; verify vs load from its report."""
        url, environment = split_password(self.fresh_database())
        report_path = self.workdir / "migration-report.json"
        environment["PYTHON"] = sys.executable
        self.log("migration command, copy engine …")
        step = self.record("migration command, copy engine", measure(
            [str(MIGRATE_SCRIPT), "--sqlite", str(self.sqlite_path), "--pg", url,
             "--engine", "copy", "--yes", "--quiet", "--report", str(report_path)],
            env=environment))
        report = json.loads(report_path.read_text())
        verify_seconds = report["verification"]["seconds"]
        load_seconds = report["load"]["seconds"] - verify_seconds  # the engine times both
        limit = self.steps[0].measurement.seconds
        step.note = (f"in its report: load {load_seconds:.1f} s ({limit / load_seconds:.2f}× "
                     f"limit), verify {verify_seconds:.1f} s = "
                     f"{verify_seconds / load_seconds:.2f}× the load")

    def _child(self, name: str, job: str, url: str, *, versus_limit: bool = True) -> Step:
        plain_url, environment = split_password(url)
        step = self.record(name, measure(
            [sys.executable, "-m", "benchmarks.migration.child", job, str(self.sqlite_path),
             plain_url],
            env=environment), versus_limit=versus_limit)
        report = json.loads(step.measurement.stdout.strip().splitlines()[-1])
        if not report.get("ok", False):
            raise RuntimeError(f"{name}: not ok: {report}")
        pgloader_mb = step.measurement.program_rss_mb("pgloader")
        if pgloader_mb is not None:
            step.note = f"pgloader alone {pgloader_mb:.0f} MB"
        if job == "verify":
            step.note = f"checksums {report['tables']} tables ok"
        if job == "preflight":
            step.note = f"{report['tables']} tables, {report['findings']} findings"
        return step


def format_table(steps: list[Step]) -> str:
    """The result table (Markdown) with each step's ratio to the physical limit."""
    limit = steps[0].measurement.seconds
    lines = ["| step | wall s | rows/s | × limit | peak RSS MB | note |",
             "|---|---:|---:|---:|---:|---|"]
    for step in steps:
        seconds = step.measurement.seconds
        ratio = f"{limit / seconds:.2f}" if step.versus_limit else "—"
        lines.append(f"| {step.name} | {seconds:.1f} | {step.rows_per_second:,.0f} | {ratio} | "
                     f"{step.measurement.peak_rss_mb:.0f} | {step.note} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The benchmark's command line (see ``--help``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.migration", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                        help=f"about how many source rows (default {DEFAULT_ROWS:,})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the benchmark databases and the work directory")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the SQLite file and CSVs go, reused by later runs "
                             "(default: a temporary directory, removed unless --keep)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 on success, 1 when a step failed."""
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cutover-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, workdir)
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    with provide_server() as server:
        print(f"server: {server}; load average now {os.getloadavg()[0]:.2f}", flush=True)
        bench = Bench(server.url, workdir, args.rows, args.keep,
                      log=lambda text: print(text, flush=True))
        try:
            bench.run()
        except RuntimeError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        finally:
            if not args.keep:
                bench.drop_databases()
    print(f"\n{bench.total_rows:,} rows, load average after: {os.getloadavg()[0]:.2f}")
    print(format_table(bench.steps))
    print("targets: " + ", ".join(f"{name} {value}" for name, value in TARGETS.items()))
    if args.keep:
        print(f"kept: {workdir} and databases "
              + ", ".join(make_url(url).database for url in bench.databases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
