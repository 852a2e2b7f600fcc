"""A database standing in for the cutover target (app schema, a few rows) and its row counts,
for the tests that prove a task or fixture leaves such a database untouched."""

from __future__ import annotations

import contextlib

import psycopg2
from helpers import upgrade_schema

from foundation.database_urls import sqlalchemy_url


def row_counts(url: str) -> dict[str, int]:
    """Rows of every table in the public schema of ``url`` (a libpq URL)."""
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                    "ORDER BY 1")
        tables = [name for (name,) in cur.fetchall()]
        counts = {}
        for table in tables:
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
        return counts


def seed_target(url: str) -> dict[str, int]:
    """The app's schema and two rooms in ``url``; returns its row counts."""
    upgrade_schema(sqlalchemy_url(url))
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO rooms (name, capacity, hourly_rate) "
                    "VALUES ('Prod room', 4, 10), ('Other room', 2, 5)")
        conn.commit()
    counts = row_counts(url)
    assert counts["rooms"] == 2 and counts["alembic_version"] == 1
    return counts
