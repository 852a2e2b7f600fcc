"""What every benchmark step needs to know about its source and target: plan and password."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

from foundation.database_urls import libpq_url
from sqlite_to_pg.catalog import Plan, open_source, read_plan


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
