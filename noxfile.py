"""Sessions: the test suite on SQLite and on PostgreSQL, lint, and the benchmarks.

`nox` runs the default sessions (tests, pg_tests, lint); `nox -l` lists them all.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "pg_tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
CONSTRAINTS = "constraints.txt"  # the versions CI tested; a fresh install resolves the same


def _install(session: nox.Session, extras: str = "test") -> None:
    session.install("-c", CONSTRAINTS, "-e", f".[{extras}]")


def _pytest(session: nox.Session, backend: str, *options: str) -> None:
    _install(session)
    args = session.posargs or ["-q"]
    session.run("pytest", f"--db={backend}", *options, *args)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole app suite on SQLite (tests that need PostgreSQL are deselected)."""
    _pytest(session, "sqlite")


@nox.session(python=PYTHON)
def pg_tests(session: nox.Session) -> None:
    """The app suite on a real PostgreSQL, plus the migration, runbook and realtime tests that
    need one. Tests that use no database backend at all ran in ``tests`` and are left out.

    The server is PG_TEST_URL if set, else a Docker container, else a temporary local cluster.
    """
    _pytest(session, "postgresql", "--only-postgres-dependent")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole project, and the layer contracts (import-linter: one way, no cycles)."""
    _install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("lint-imports", "--no-cache")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Migration benchmark (2M rows, two shapes): the limit, psql, pgloader, DuckDB, the command.

    Options after `--` (`-- --rows 200000 --shape json --workdir DIR`; `-- --help`). Prints a
    table per shape; copy them into docs/benchmarks.md.
    """
    _install(session, "bench")
    session.run("python", "-m", "benchmarks.migration", *session.posargs)


@nox.session(python=PYTHON, default=False)
def load_bench(session: nox.Session) -> None:
    """API load benchmark: SQLite vs PostgreSQL, 1 vs N uvicorn workers, WebSocket reconnect storm.

    Pass options after `--` (e.g. `-- --clients 8 --duration 10`; `python -m benchmarks.load -h`).
    Prints tables; copy them into docs/benchmarks.md.
    """
    _install(session)
    session.run("python", "-m", "benchmarks.load", *session.posargs)
