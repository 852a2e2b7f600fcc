"""The physical limit (issue #11) and its keys-in-place variant, as psql scripts.

Both read COPY text exported beforehand (untimed) — the very rows the copy engine streams
(``sqlite_to_pg.copy_engine.iter_copy_rows``), so the limit loads the same bytes — and run in
one transaction (``psql -1``) as the table owner, under the session settings every load uses:

* **the limit**: save every foreign key, primary/unique key and index (``pg_get_constraintdef``
  / ``pg_get_indexdef``, read by the engine's own ``constraints``/``indexes`` modules), drop
  them, ``TRUNCATE``, ``\\copy … WITH (FREEZE)`` each table, rebuild the keys and indexes from
  the saved definitions, re-add the foreign keys, reset the sequences
  (scripts/reset_sequences.sql). What Postgres itself can ingest.
* **keys in place**: the same ``TRUNCATE`` + ``\\copy … WITH (FREEZE)`` in foreign-key order
  and the sequence reset, with every key and index maintained row by row.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg2

from foundation.database_urls import libpq_url
from sqlite_to_pg.catalog import Plan
from sqlite_to_pg.constraints import save_foreign_keys
from sqlite_to_pg.copy_engine import iter_copy_rows
from sqlite_to_pg.indexes import save_indexes
from sqlite_to_pg.sequences import RESET_SEQUENCES_SQL
from sqlite_to_pg.values import CANONICAL_SETTINGS, load_columns, quote_pg


def export_copy_text(sqlite_path: Path, plan: Plan, directory: Path) -> dict[str, Path]:
    """One file of COPY text per planned table (exactly what the copy engine sends)."""
    files = {}
    for table in plan.tables:
        path = directory / f"{table.name}.copy"
        with path.open("wb") as handle:
            handle.writelines(iter_copy_rows(sqlite_path, table))
        files[table.name] = path
    return files


def _copy_commands(plan: Plan, files: dict[str, Path]) -> list[str]:
    def name(table) -> str:
        return f"{quote_pg(table.target.schema)}.{quote_pg(table.target.name)}"

    lines = [f"TRUNCATE {', '.join(name(table) for table in plan.tables)};"]
    for table in plan.tables:
        columns = ", ".join(quote_pg(column.name) for column in load_columns(table))
        lines.append(f"\\copy {name(table)} ({columns}) FROM '{files[table.name]}' "
                     "WITH (FREEZE)")
    return lines


def psql_scripts(url: str, plan: Plan, files: dict[str, Path]) -> dict[str, str]:
    """{"limit": …, "keys in place": …}: the two psql scripts, definitions read from ``url``."""
    with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
        keys = save_foreign_keys(cur, plan.schema, plan.table_names)
        indexes = save_indexes(cur, plan.schema, plan.table_names)
        drop = [item.drop_sql().as_string(conn) + ";" for item in [*keys, *indexes]]
        rebuild = [index.create_sql().as_string(conn) + ";" for index in indexes]
        rebuild += [key.add_sql().as_string(conn) + ";" for key in keys]
    head = [r"\set ON_ERROR_STOP on"]
    head += [f"SET \"{name}\" = '{value}';" for name, value in CANONICAL_SETTINGS.items()]
    copies = _copy_commands(plan, files)
    tail = [f"\\i '{RESET_SEQUENCES_SQL}'"]
    return {"limit": "\n".join([*head, *drop, *copies, *rebuild, *tail]) + "\n",
            "keys in place": "\n".join([*head, *copies, *tail]) + "\n"}
