"""``python -m benchmarks.online``: the online cutover's window at several sizes.

Needs ``PG_TEST_URL`` (a server where it may create and drop databases). Prints one JSON
object per size and a Markdown table at the end (see ``benchmarks.online.run``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks.online.run import run_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.online", description=__doc__)
    parser.add_argument("--rows", type=int, action="append",
                        help="source size in rows; repeatable (default: 200000 and 2000000)")
    parser.add_argument("--changes", type=int, default=5000,
                        help="row changes since the last round when the window starts")
    parser.add_argument("--latency-writes", type=int, default=300,
                        help="sequential API writes per latency measurement")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/online-bench"),
                        help="where the SQLite files and the API's files go")
    parser.add_argument("--report", type=Path, help="write every figure as JSON here")
    args = parser.parse_args(argv)
    server = os.environ.get("PG_TEST_URL")
    if not server:
        print("error: set PG_TEST_URL to a PostgreSQL server URL", file=sys.stderr)
        return 2
    results = []
    for rows in args.rows or [200_000, 2_000_000]:
        figures = run_size(server, rows, args.workdir, changes=args.changes,
                           latency_writes=args.latency_writes)
        print(json.dumps(figures), flush=True)
        results.append(figures)
    print("\n| rows | SQLite MB | window s (freeze → unfreeze) | of which last round + verify s "
          "| changes in window | catch-up changes/s | single-window data move s | write p50/p99 "
          "ms (WAL) without → with triggers |\n|---:|---:|---:|---:|---:|---:|---:|---|")
    for f in results:
        before, after = f["latency_without_capture"], f["latency_with_capture"]
        print(f"| {f['rows']:,} | {f['sqlite_mb']} | {f['window_s']} | {f['window_engine_s']} | "
              f"{f['window_changes']:,} | {f['window_rate_changes_per_s']:,} | "
              f"{f['single_window_move_s']} | {before['p50_ms']}/{before['p99_ms']} → "
              f"{after['p50_ms']}/{after['p99_ms']} |")
    if args.report:
        args.report.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
