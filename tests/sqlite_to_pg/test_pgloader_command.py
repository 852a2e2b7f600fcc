"""pgloader as a subprocess: the password only in its environment, exact table selection."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import psutil
import psycopg2
import pytest
from pgloader_support import plan_for, run_load, target_counts

from foundation.throwaway_postgres import create_database
from sqlite_to_pg.pgloader_command import (
    LOAD_FILE,
    PgloaderUnavailable,
    include_list,
    parse_summary,
    unquote_identifier,
)
from sqlite_to_pg.pgloader_engine import PgloaderEngine

MIGRATE = Path(__file__).resolve().parents[2] / "scripts" / "migrate_sqlite_to_pg.sh"
SECRET = "s3cret-Pass_word"
SCRAM_HBA = """
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


@pytest.mark.requires_pg
def test_password_reaches_pgloader_only_through_its_environment(throwaway_cluster, make_sqlite):
    (throwaway_cluster.datadir / "pg_hba.conf").write_text(SCRAM_HBA)
    with contextlib.closing(psycopg2.connect(throwaway_cluster.url)) as admin:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_reload_conf()")
            cur.execute(f"CREATE ROLE app_pw LOGIN PASSWORD '{SECRET}'")
    url = create_database(throwaway_cluster.url, owner="app_pw").replace(
        "app_pw@", f"app_pw:{SECRET}@")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(url.replace(SECRET, "wrong")).close()
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL)")
        conn.commit()
    source = make_sqlite("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
                         rows={"note": [(1, "a"), (2, "b")]})
    command_lines: list[list[str]] = []
    engine = PgloaderEngine(on_pgloader_start=lambda process: command_lines.append(
        psutil.Process(process.pid).cmdline()))

    result, progress = run_load(plan_for(source, url), source, url, engine=engine)

    assert result.committed and target_counts(url, ["note"]) == {"note": 2}
    assert command_lines and SECRET not in " ".join(command_lines[0])
    assert SECRET not in progress and SECRET not in LOAD_FILE.read_text()


def test_table_filter_must_select_exactly_the_planned_tables(make_sqlite):
    source = make_sqlite("CREATE TABLE chat_messages (id INTEGER PRIMARY KEY);"
                         "CREATE TABLE chatXmessages (id INTEGER PRIMARY KEY);"
                         "CREATE TABLE Users (id INTEGER PRIMARY KEY);")
    assert include_list(source, ["chat_messages", "chatXmessages"]) == \
        "'chat_messages', 'chatXmessages'"
    with pytest.raises(PgloaderUnavailable, match="would also select chatXmessages"):
        include_list(source, ["chat_messages"])
    with pytest.raises(PgloaderUnavailable, match="containing a quote"):
        include_list(source, ["it's"])


def test_summary_rows_are_read_by_quoted_name():
    summary = parse_summary([
        "             table name     errors       read   imported      bytes      total time",
        '        "public"."Odd ""Name"""          2         10          8     1.0 kB   0.250s',
        '                "user"          0       1000       1000    25.2 kB          0.104s  0.01s',
        "COPY Threads Completion          0          4          4                     0.108s",
    ])
    assert set(summary) == {'Odd "Name"', "user"}
    odd = summary['Odd "Name"']
    assert (odd.errors, odd.read, odd.imported, odd.seconds) == (2, 10, 8, 0.25)
    assert unquote_identifier('"a"."b"') == "b"


@pytest.mark.requires_pg
def test_coercions_are_refused_with_pgloader_and_nothing_is_written(make_sqlite, pg_exec, pg_url):
    source = make_sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME);"
                         "INSERT INTO t VALUES (1, 1714557600);")
    pg_exec("CREATE TABLE t (id integer PRIMARY KEY, at timestamptz);"
            "INSERT INTO t VALUES (7, now())")
    done = subprocess.run([str(MIGRATE), "--sqlite", str(source), "--pg", pg_url, "--engine",
                           "pgloader", "--allow-coercion", "epoch-seconds", "--yes"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--allow-coercion needs --engine copy" in done.stderr
    assert pg_exec("SELECT id FROM t") == [(7,)]
