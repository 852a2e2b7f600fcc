"""``python -m benchmarks.load``: run the load scenarios and the reconnect storm; print figures."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path

import psycopg2

from benchmarks.load.config import (
    DEFAULT_SCENARIOS,
    SCENARIOS,
    WORKLOAD_MIX,
    BenchConfig,
    parse_mix,
)
from benchmarks.load.database import SchemaFailed
from benchmarks.load.report import render
from benchmarks.load.scenarios import run_scenarios
from foundation.database_urls import redact_text
from foundation.throwaway_postgres import NoPostgresAvailable
from foundation.uvicorn_runner import ApiStartFailed

DEFAULTS = BenchConfig()


def _scenarios(text: str) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown scenario(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(SCENARIOS)}")
    return chosen


def _mix(text: str) -> tuple[tuple[str, int], ...]:
    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description="Load benchmark of the booking API: N concurrent clients (logins, bookings, "
                    "lists, uploads, WebSocket chat) on SQLite and PostgreSQL with 1 and N uvicorn "
                    "workers, plus a WebSocket reconnect storm. All load goes to 127.0.0.1.")
    parser.add_argument("--scenarios", type=_scenarios, default=DEFAULT_SCENARIOS,
                        help=f"comma-separated, from {', '.join(SCENARIOS)} "
                             f"(default: {','.join(DEFAULT_SCENARIOS)})")
    parser.add_argument("--clients", type=_positive(int), default=DEFAULTS.clients,
                        help="concurrent clients, each its own user + socket (default %(default)s)")
    parser.add_argument("--duration", type=_positive(float), default=DEFAULTS.duration_s,
                        help="seconds of load per scenario (default %(default)s)")
    parser.add_argument("--max-requests", type=_positive(int),
                        default=DEFAULTS.max_requests_per_client,
                        help="upper bound of operations per client (default %(default)s)")
    parser.add_argument("--workers", type=_positive(int), default=DEFAULTS.workers,
                        help="uvicorn workers of -Nw scenarios and the storm (default %(default)s)")
    parser.add_argument("--mix", type=_mix, default=DEFAULTS.mix,
                        help="operation weights over the default mix, e.g. login=0 (default: "
                             + ",".join(f"{op}={weight}" for op, weight in WORKLOAD_MIX.items())
                             + ")")
    parser.add_argument("--pg", default=None,
                        help="admin URL of a PostgreSQL server to create the benchmark "
                             "databases on (default: PG_TEST_URL, else a Docker container, else "
                             "a temporary cluster; never DB_URL)")
    parser.add_argument("--storm-sockets", type=_positive(int), default=DEFAULTS.storm_sockets,
                        help="sockets in the reconnect storm (default %(default)s)")
    parser.add_argument("--storm-users", type=_positive(int), default=DEFAULTS.storm_users,
                        help="distinct users (tokens) behind the storm (default %(default)s)")
    parser.add_argument("--storm-jitter", type=_positive(float), default=DEFAULTS.storm_jitter_s,
                        help="each socket (re)connects after a random delay of up to this "
                             "many seconds (default %(default)s)")
    parser.add_argument("--detail", action="store_true",
                        help="also print one table per scenario with each operation's figures")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write every figure as JSON to this file")
    return parser


def config_from(args: argparse.Namespace) -> BenchConfig:
    """The run's configuration from parsed flags (everything else keeps its default)."""
    return dataclasses.replace(
        DEFAULTS, scenarios=args.scenarios, clients=args.clients, duration_s=args.duration,
        max_requests_per_client=args.max_requests, mix=args.mix, workers=args.workers,
        pg_url=args.pg,
        storm_sockets=args.storm_sockets, storm_users=args.storm_users,
        storm_jitter_s=args.storm_jitter, json_path=args.json)


def write_json(path: Path, config: BenchConfig, results, storm) -> None:
    """Every figure, plus what was run and when, as JSON."""
    settings = {key: value for key, value in dataclasses.asdict(config).items()
                if key not in ("pg_url", "json_path")}
    document = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average": list(os.getloadavg()),
        "config": settings,
        "load": [dataclasses.asdict(result) for result in results],
        "storm": dataclasses.asdict(storm) if storm is not None else None,
    }
    path.write_text(json.dumps(document, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; operator errors print one clear line and exit 2 (no traceback)."""
    args = build_parser().parse_args(argv)
    config = config_from(args)
    load_before = os.getloadavg()
    print(f"load average before the run: {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    try:
        results, storm = run_scenarios(config)
    except (NoPostgresAvailable, ApiStartFailed, SchemaFailed, ValueError) as exc:
        print(f"loadbench: {redact_text(str(exc))}", file=sys.stderr)
        return 2
    except psycopg2.Error as exc:
        first_line = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        print(f"loadbench: PostgreSQL refused the benchmark's setup: {redact_text(first_line)}",
              file=sys.stderr)
        return 2
    mix = ", ".join(f"{op} {weight}" for op, weight in config.mix)
    print(f"{config.clients} clients, {config.duration_s:g} s per scenario, mix: {mix}\n")
    print(render(results, storm, detail=args.detail))
    if config.json_path is not None:
        write_json(config.json_path, config, results, storm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
