"""One measured benchmark step that is Python code, run as a child of ``benchmarks.migration.run``.

``python -m benchmarks.migration.child duckdb SQLITE PG_URL WORKDIR`` loads the target with
DuckDB (``duckdb_peer``) and prints one JSON line: ``ok``, seconds, rows.
The password, if any, comes from PGPASSWORD, never from the command line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from benchmarks.migration.bench_plan import read_bench_plan
from benchmarks.migration.duckdb_peer import load_with_duckdb


def run_duckdb(sqlite_path: Path, pg_url: str, workdir: Path) -> dict:
    """Load every planned table with DuckDB's ``INSERT … SELECT``."""
    plan = read_bench_plan(sqlite_path, pg_url)
    started = time.monotonic()
    rows = load_with_duckdb(sqlite_path, pg_url, plan, workdir / "duckdb-extensions")
    return {"ok": True, "seconds": time.monotonic() - started, "rows": rows}


JOBS = {"duckdb": run_duckdb}


def main(argv: list[str]) -> int:
    job, sqlite_path, pg_url, workdir = argv[0], Path(argv[1]), argv[2], Path(argv[3])
    report = JOBS[job](sqlite_path, pg_url, workdir)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
