"""The migration benchmark: ``python -m benchmarks.migration [--rows N] [--shape S] [--workdir D]``.

On one PostgreSQL server (PG_TEST_URL, else a temporary cluster of the local binaries; never
DB_URL, the production target), for each data shape (``--shape``, default all) one SQLite file
of about N rows is built (or reused from ``--workdir``), and each step loads a fresh database
that the shape's schema made, owned by a non-superuser role. Each step is a child process,
measured from outside: wall seconds and the peak RSS of its whole process tree.

  limit            psql -1: every foreign key, primary/unique key and index saved, dropped and
                   rebuilt from the saved definitions, \\copy ... WITH (FREEZE) of COPY text
                   exported beforehand (untimed), sequences reset; one transaction, table owner
  keys in place    the same \\copy FREEZE + sequence reset with every key and index in place
  pgloader alone   pgloader with scripts/migrate.load, as the engine runs it (foreign keys
                   dropped beforehand, untimed); no recount, key re-add, sequences or verify
  DuckDB           INSERT ... SELECT per table from the attached SQLite into the attached
                   Postgres (extensions installed from the PyPI packages' files), keys in place
  migration command, copy / pgloader engine
                   scripts/migrate_sqlite_to_pg.sh --engine E --yes: plan, preflight, load,
                   sequences, verify; with its JSON report's preflight / load / verify seconds

Before anything is measured, the limit runs once untimed (a warm-up): a new cluster has to create
its WAL files as the first load writes them, which made the first step, the limit, up to 1.6×
slower than when it ran again. ``--rounds N`` measures every step N times, in turns, and shows
each step's median round (with every round's time in its note): this machine's speed drifts by a
quarter within minutes.

Before each measured step the server settles, untimed: no autovacuum worker running, then a
CHECKPOINT. Each step's database is dropped as soon as it is checked (the last round's stay,
with autovacuum off), so no step pays for the writes or the vacuum of the one before it.
Within a round the copy command runs right after the limit, and the pgloader command right
after pgloader alone, so that each ratio with a target is of two neighbouring steps.

"x limit" is a step's wall time over the limit's (1.00 = the limit; issue #11 asks <= 1.5 of
the copy engine's migration command). Prints one Markdown table per shape.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from sqlalchemy.engine import make_url

from benchmarks.migration.bench_plan import read_bench_plan, split_password
from benchmarks.migration.limit import export_copy_text, psql_scripts
from benchmarks.migration.measure import Measurement, measure
from benchmarks.migration.results import Step, format_table, median_steps, split_from_report
from benchmarks.migration.shapes import SHAPES, DataShape
from foundation.database_urls import libpq_url, redact_text, with_database
from foundation.throwaway_postgres import create_database, drop_database, provide_server
from sqlite_to_pg.catalog import Plan
from sqlite_to_pg.constraints import drop_foreign_keys, save_foreign_keys
from sqlite_to_pg.pgloader_command import (
    LOAD_FILE,
    pgloader_environment,
    pgloader_path,
    safe_source_path,
)

DEFAULT_ROWS = 2_000_000
OWNER = "cutover_app"  # a non-superuser role owning each benchmark database
SETTLE_SECONDS = 300  # the longest wait for autovacuum to finish before a measured step
MIGRATE_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "migrate_sqlite_to_pg.sh"
ENGINES = ("copy", "pgloader")
OPTIONAL_STEPS = ("keys-in-place", "pgloader-alone", "duckdb", "copy-command",
                  "pgloader-command")
LIMIT = "limit: psql \\copy FREEZE, every key and index dropped + rebuilt"
KEYS_IN_PLACE = "psql \\copy FREEZE, keys in place"
PGLOADER_ALONE = "pgloader alone"
DUCKDB = "DuckDB INSERT … SELECT, keys in place"
STEP_NAMES = [LIMIT, KEYS_IN_PLACE, PGLOADER_ALONE, DUCKDB,
              *(f"migration command, {engine} engine" for engine in ENGINES)]
TARGETS = "copy-engine command ≤ 1.5× limit (goal 1.2×); pgloader-engine command ≤ 1.3× " \
          "pgloader alone; peak RSS < 150 MB"


class Bench:
    """One shape on one server: fresh databases, measured steps, a table at the end."""

    def __init__(self, admin_url: str, workdir: Path, rows: int, shape: DataShape, *,
                 keep: bool = False, log: Callable[[str], None] = print,
                 steps: frozenset[str] = frozenset(OPTIONAL_STEPS)) -> None:
        self.admin_url = admin_url
        self.wanted = steps  # the optional steps to run; the limit always runs
        self.workdir = workdir
        self.rows = rows
        self.shape = shape
        self.keep = keep
        self.log = log
        self.sqlite_path = workdir / f"{shape.name}-{rows}.sqlite"
        self.databases: list[str] = []
        self.step_databases: dict[str, str] = {}  # step name -> the database it loaded
        self.steps: list[Step] = []  # the current round's
        self.rounds: list[list[Step]] = []
        self.total_rows = 0
        self.plan: Plan | None = None
        self.plan_url = ""

    def fresh_database(self, step: str | None = None) -> str:
        """A new database owned by the non-superuser role, with the shape's schema; its URL.
        For a measured ``step``, the server is then let settle (untimed, ``_settle``)."""
        url = create_database(self.admin_url, owner=OWNER)
        self.databases.append(url)
        if step is not None:
            self.step_databases[step] = url
        self.shape.apply_target_schema(url)
        if step is not None:
            self._settle()
        return url

    def _settle(self) -> None:
        """Wait (at most SETTLE_SECONDS) for no autovacuum worker to run, then CHECKPOINT: each
        step starts on a quiet server with its dirty pages written, instead of paying for the
        step before it (a 2M-row load writes more WAL than max_wal_size's default, so the
        checkpoint it set off ran into the next step, always the same one in a round)."""
        with contextlib.closing(psycopg2.connect(libpq_url(self.admin_url))) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                deadline = time.monotonic() + SETTLE_SECONDS
                while time.monotonic() < deadline:
                    cur.execute("SELECT count(*) FROM pg_stat_activity "
                                "WHERE backend_type = 'autovacuum worker'")
                    if cur.fetchone()[0] == 0:
                        break
                    time.sleep(0.5)
                else:
                    self.log(f"  (autovacuum still running after {SETTLE_SECONDS} s)")
                try:
                    cur.execute("CHECKPOINT")
                except psycopg2.errors.InsufficientPrivilege:
                    self.log("  (no CHECKPOINT before the step: the admin role may not run one)")

    def _autovacuum_off(self, url: str) -> None:
        """Autovacuum off for the planned tables in that database of this run (as admin)."""
        admin = with_database(self.admin_url, make_url(url).database)
        with contextlib.closing(psycopg2.connect(libpq_url(admin))) as conn, conn.cursor() as cur:
            for table in self.plan.tables:
                cur.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false, "
                                    "toast.autovacuum_enabled = false)").format(
                    table.target.identifier))
            conn.commit()

    def drop_databases(self, urls: list[str] | None = None) -> None:
        """Drop these databases of this run (default: every one it has not dropped yet)."""
        for url in list(self.databases if urls is None else urls):
            drop_database(self.admin_url, make_url(url).database)
            self.databases.remove(url)

    def record(self, name: str, measurement: Measurement, note: str = "") -> Step:
        """Keep a measured step for the table; a failed step stops the run with its output."""
        if measurement.returncode != 0:
            output = (measurement.stderr.strip() or measurement.stdout.strip())[-2000:]
            raise RuntimeError(f"{name} failed ({measurement.returncode}): {redact_text(output)}")
        step = Step(name, measurement, self.total_rows, note)
        self.steps.append(step)
        self.log(f"  {name}: {measurement.seconds:.1f} s, {measurement.peak_rss_mb:.0f} MB")
        return step

    def run(self, rounds: int = 1) -> None:
        """Build (or reuse) the source, export the COPY text, warm the server up, then measure
        every step ``rounds`` times in turns; ``steps`` ends as each step's median round."""
        if self.sqlite_path.exists():
            self.log(f"reusing {self.sqlite_path}")
        else:
            self.log(f"building {self.sqlite_path} (~{self.rows:,} rows, {self.shape.name})")
            self.shape.build_sqlite(self.sqlite_path, self.rows, log=self.log)
        self.plan_url = plan_url = self.fresh_database()  # stays empty: the schema as made
        self.plan = read_bench_plan(self.sqlite_path, plan_url)
        self.log(f"exporting COPY text for the psql steps (untimed) from {self.sqlite_path}")
        export_dir = self.workdir / f"{self.shape.name}-{self.rows}-copy"
        export_dir.mkdir(exist_ok=True)
        files = export_copy_text(self.sqlite_path, self.plan, export_dir)
        self.total_rows = sum(_count_lines(path) for path in files.values())
        scripts = psql_scripts(plan_url, self.plan, files)
        self._warm_up(scripts["limit"])
        for number in range(1, rounds + 1):
            if rounds > 1:
                self.log(f"round {number} of {rounds}")
            self.steps = []
            for step in self._round_steps(scripts):
                first_database = len(self.databases)
                step()
                # left alone, autovacuum's first pass over what a step loaded (pgloader's
                # tables are not frozen) ran into the next step: a step's database goes as
                # soon as it is checked, or, in the last round or with --keep, stays with
                # autovacuum off
                if number < rounds and not self.keep:
                    self.drop_databases(self.databases[first_database:])
                else:
                    for url in self.databases[first_database:]:
                        self._autovacuum_off(url)
            self.steps.sort(key=lambda step: STEP_NAMES.index(step.name))
            self.rounds.append(self.steps)
        self.steps = median_steps(self.rounds)

    def _round_steps(self, scripts: dict[str, str]) -> list[Callable[[], None]]:
        """The steps of one round, in the order they run: each ratio the issue sets a target
        for is of two neighbours (the limit, then the copy command; pgloader alone, then the
        pgloader command), since this machine's speed drifts within minutes; the table shows
        them in ``STEP_NAMES`` order."""
        by_step = {
            "copy-command": functools.partial(self._migration_command, "copy"),
            "pgloader-alone": self._pgloader_alone,
            "pgloader-command": functools.partial(self._migration_command, "pgloader"),
            "keys-in-place": functools.partial(self._psql, KEYS_IN_PLACE,
                                               scripts["keys in place"], "keys-in-place"),
            "duckdb": self._duckdb,
        }
        return [functools.partial(self._psql, LIMIT, scripts["limit"], "limit")] + \
            [run for step, run in by_step.items() if step in self.wanted]

    def _warm_up(self, script_text: str) -> None:
        """The limit once, untimed, so every measured step finds the server's WAL files made."""
        warm_url = self.fresh_database()
        self.log("warm-up (untimed): the limit once")
        _url, warm = self._run_script(warm_url, script_text, "warm-up")
        if warm.returncode != 0:
            raise RuntimeError(f"warm-up failed: {redact_text(warm.stderr.strip()[-2000:])}")
        if not self.keep:
            self.drop_databases([warm_url])

    def _psql(self, name: str, script_text: str, label: str) -> None:
        database_url = self.fresh_database(name)
        self.log(f"{name} …")
        url, measurement = self._run_script(database_url, script_text, label)
        self.record(name, measurement)
        self._expect_rows(url, name)

    def _run_script(self, database_url: str, script_text: str,
                    label: str) -> tuple[str, Measurement]:
        """``psql -1 -f`` of the script (kept as ``<shape>-<label>.sql``) on that database:
        (its URL without the password, which goes by the environment; the measurement)."""
        url, environment = split_password(database_url)
        script = self.workdir / f"{self.shape.name}-{label}.sql"
        script.write_text(script_text)
        return url, measure(["psql", "-X", "-q", "-1", "-f", str(script), "-d", url],
                            env=environment)

    def _pgloader_alone(self) -> None:
        url = self.fresh_database(PGLOADER_ALONE)
        with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
            drop_foreign_keys(cur, save_foreign_keys(cur, self.plan.schema, self.plan.table_names))
            conn.commit()
        self.log(f"{PGLOADER_ALONE} …")
        with safe_source_path(self.sqlite_path) as source, \
                tempfile.TemporaryDirectory(prefix="cutover-bench-pgloader-") as root:
            environment = pgloader_environment(source, url, self.plan.schema,
                                               self.plan.table_names)
            measurement = measure([pgloader_path(), "--root-dir", root, str(LOAD_FILE)],
                                  env=environment)
        self.record(PGLOADER_ALONE, measurement, "foreign keys dropped beforehand (untimed)")
        self._expect_rows(url, PGLOADER_ALONE)

    def _duckdb(self) -> None:
        plain_url, environment = split_password(self.fresh_database(DUCKDB))
        self.log(f"{DUCKDB} …")
        step = self.record(DUCKDB, measure(
            [sys.executable, "-m", "benchmarks.migration.child", "duckdb",
             str(self.sqlite_path), plain_url, str(self.workdir)], env=environment),
            "no sequence reset")
        report = json.loads(step.measurement.stdout.strip().splitlines()[-1])
        if report["rows"] != self.total_rows:
            raise RuntimeError(f"{DUCKDB}: {report['rows']:,} rows, not {self.total_rows:,}")

    def _migration_command(self, engine: str) -> None:
        """The real migration command on a fresh database; its report's time split."""
        name = f"migration command, {engine} engine"
        url, environment = split_password(self.fresh_database(name))
        report_path = self.workdir / f"{self.shape.name}-migration-{engine}.json"
        environment["PYTHON"] = sys.executable
        self.log(f"{name} …")
        step = self.record(name, measure(
            [str(MIGRATE_SCRIPT), "--sqlite", str(self.sqlite_path), "--pg", url,
             "--engine", engine, "--yes", "--quiet", "--report", str(report_path)],
            env=environment))
        report = json.loads(report_path.read_text())
        step.split = split_from_report(report)
        loaded = sum(table["rows"] for table in report["load"]["tables"])
        if report["status"] != "ok" or loaded != self.total_rows:
            raise RuntimeError(f"{name}: status {report['status']}, {loaded:,} rows")
        step.note = f"verified {len(report['load']['tables'])} tables"
        pgloader_mb = step.measurement.program_rss_mb("pgloader")
        if pgloader_mb is not None:
            step.note += f"; pgloader itself {pgloader_mb:.0f} MB"

    def _expect_rows(self, url: str, name: str) -> None:
        with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
            loaded = 0
            for table in self.plan.tables:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table.target.identifier))
                loaded += cur.fetchone()[0]
        if loaded != self.total_rows:
            raise RuntimeError(f"{name}: {loaded:,} rows in the target, not {self.total_rows:,}")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _positive(text: str) -> int:
    """A whole number of at least 1 (``--rounds``)."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The benchmark's command line (see ``--help``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.migration", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                        help=f"about how many source rows per shape (default {DEFAULT_ROWS:,})")
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all",
                        help="which data shape: " + "; ".join(
                            f"{name}: {shape.description}" for name, shape in SHAPES.items()
                        ).replace("%", "%%") + " (default: all)")
    parser.add_argument("--steps", default=",".join(OPTIONAL_STEPS),
                        help="comma-separated steps to run besides the limit, which always "
                             f"runs (default: all of {', '.join(OPTIONAL_STEPS)})")
    parser.add_argument("--rounds", type=_positive, default=1,
                        help="measure every step this many times, in turns, and show each "
                             "step's median (default 1)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the benchmark databases and the work directory")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the SQLite files, COPY text and reports go; a SQLite file "
                             "of the same shape and size there is reused (default: a temporary "
                             "directory, removed unless --keep)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables; 0 on success, 1 when a step failed."""
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cutover-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, workdir)
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    shapes = list(SHAPES.values()) if args.shape == "all" else [SHAPES[args.shape]]
    steps = frozenset(step.strip() for step in args.steps.split(",") if step.strip())
    if unknown := steps - set(OPTIONAL_STEPS):
        print(f"unknown step(s): {', '.join(sorted(unknown))}; the steps are "
              f"{', '.join(OPTIONAL_STEPS)}", file=sys.stderr)
        return 2
    environ = {key: value for key, value in os.environ.items() if key != "DB_URL"}
    with provide_server(environ) as server:
        print(f"server: {server}; load average now {os.getloadavg()[0]:.2f}", flush=True)
        for shape in shapes:
            bench = Bench(server.url, workdir, args.rows, shape, keep=args.keep,
                          log=lambda text: print(text, flush=True), steps=steps)
            try:
                bench.run(args.rounds)
            except RuntimeError as exc:
                print(f"benchmark failed: {exc}", file=sys.stderr)
                return 1
            finally:
                if not args.keep:
                    bench.drop_databases()
            print(f"\n{shape.name} shape: {bench.total_rows:,} rows, load average after: "
                  f"{os.getloadavg()[0]:.2f}")
            print(format_table(bench.steps))
            if args.keep:
                print("kept databases: "
                      + ", ".join(make_url(url).database for url in bench.databases))
    print(f"targets: {TARGETS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
