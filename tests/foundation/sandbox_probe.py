"""Run only by test_target_is_not_a_sandbox.py (not collected otherwise: no ``test_`` prefix).

It does what a careless test may do to the server the ``pg_server`` fixture hands it: empty
every table of that server's maintenance database, and start a process that inherits the
environment.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import psycopg2


def test_what_a_careless_test_does_to_its_server(pg_server):
    print(f"PROBE-SERVER-KIND={pg_server.kind}")
    with contextlib.closing(psycopg2.connect(pg_server.url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'")
        for (table,) in cur.fetchall():
            cur.execute(f"TRUNCATE {table} CASCADE")
        conn.commit()
    inherited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('DB_URL'), "
                               "os.environ.get('SQLALCHEMY_DATABASE_URL'))"],
        capture_output=True, text=True, check=True, env=os.environ)
    assert inherited.stdout.split() == ["None", "None"]
