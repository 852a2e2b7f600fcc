#!/usr/bin/env bash
# Data-only SQLite → PostgreSQL migration: preflight, load, sequences, verify.
# A thin wrapper: everything (options, --help, exit codes) is the Python CLI's, sqlite_to_pg.cli.
# Works from any directory; uses $PYTHON if set, else python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="${here}/../backend${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m sqlite_to_pg.cli "$@"
