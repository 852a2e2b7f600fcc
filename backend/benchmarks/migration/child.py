"""One measured benchmark step, run as a child process of ``benchmarks.migration.run``.

``python -m benchmarks.migration.child {pgloader|copy|verify|preflight} SQLITE PG_URL`` loads
(resetting the sequences, without verifying), verifies, or runs the preflight checks, and prints
one JSON line: ``ok``, seconds, and what the job counted.
The password, if any, comes from PGPASSWORD, never from the command line.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import psycopg2

from benchmarks.migration.run import read_bench_plan
from sqlite_to_pg.engines import get_engine
from sqlite_to_pg.preflight import run_preflight
from sqlite_to_pg.progress import Progress
from sqlite_to_pg.sequences import reset_sequences
from sqlite_to_pg.verify import verify


class _Loaded:
    """``finish``'s answer when the benchmark measures the load alone."""

    ok = True
    problems: list[str] = []


def _reset_only(conn) -> _Loaded:
    with conn.cursor() as cur:
        reset_sequences(cur)
    return _Loaded()


def run_load(engine_name: str, sqlite_path: Path, pg_url: str) -> dict:
    """Load with the named engine (keys re-added, sequences reset, no verify)."""
    plan = read_bench_plan(sqlite_path, pg_url)
    result = get_engine(engine_name).load(plan, sqlite_path=sqlite_path, pg_url=pg_url,
                                          progress=Progress(sys.stderr, quiet=True),
                                          finish=_reset_only)
    return {"ok": result.committed, "seconds": result.seconds,
            "rows": sum(table.rows for table in result.tables)}


def run_verify(sqlite_path: Path, pg_url: str) -> dict:
    """Verify a loaded database against the source (counts, checksums, keys, sequences)."""
    plan = read_bench_plan(sqlite_path, pg_url)
    started = time.monotonic()
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        verification = verify(plan, sqlite_path, conn)
        conn.rollback()
    return {"ok": verification.ok, "seconds": time.monotonic() - started,
            "tables": len(verification.tables), "problems": verification.problems[:5]}


def run_preflight_only(sqlite_path: Path, pg_url: str) -> dict:
    """The migration's preflight checks of the source against the (empty) target's plan."""
    plan = read_bench_plan(sqlite_path, pg_url)
    started = time.monotonic()
    preflight = run_preflight(plan, sqlite_path)
    return {"ok": preflight.ok, "seconds": time.monotonic() - started,
            "tables": len(preflight.row_counts), "findings": len(preflight.findings)}


CHECKS = {"verify": run_verify, "preflight": run_preflight_only}


def main(argv: list[str]) -> int:
    job, sqlite_path, pg_url = argv[0], Path(argv[1]), argv[2]
    check = CHECKS.get(job)
    report = check(sqlite_path, pg_url) if check else run_load(job, sqlite_path, pg_url)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
