"""DuckDB as a peer: its sqlite and postgres extensions, one ``INSERT … SELECT`` per table.

The extensions come from the PyPI packages ``duckdb-extension-sqlite`` and
``duckdb-extension-postgres`` (pinned with ``duckdb`` in constraints.txt, the ``bench`` extra):
each carries its ``.duckdb_extension`` file, which is ``INSTALL``-ed from that local path into
an extension directory of the run's own, then ``LOAD``-ed; automatic installs and loads are
switched off, so nothing is downloaded at run time. The tables are filled in foreign-key order
with the target's keys and indexes in place, in one transaction; the sequences are not reset
(DuckDB does not know them). The password, if any, reaches libpq as PGPASSWORD.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlite_to_pg.catalog import Plan
from sqlite_to_pg.values import quote_pg

EXTENSIONS = {"sqlite": "duckdb_extension_sqlite", "postgres": "duckdb_extension_postgres"}


def extension_file(package: str) -> Path:
    """The ``.duckdb_extension`` file an extension package carries."""
    module = importlib.import_module(package)
    found = sorted(Path(module.__file__).parent.glob("extensions/*/*.duckdb_extension"))
    if not found:
        raise RuntimeError(f"{package} carries no .duckdb_extension file")
    return found[-1]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_with_duckdb(sqlite_path: Path, libpq_dsn: str, plan: Plan, extension_dir: Path) -> int:
    """Copy every planned table from SQLite into Postgres with DuckDB; the rows inserted."""
    import duckdb  # the bench extra; only this step needs it

    con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False,
                                 "extension_directory": str(extension_dir)})
    try:
        for name, package in EXTENSIONS.items():
            con.execute(f"INSTALL {_literal(str(extension_file(package)))}")
            con.execute(f"LOAD {name}")
        con.execute(f"ATTACH {_literal(str(sqlite_path))} AS src (TYPE sqlite, READ_ONLY)")
        con.execute(f"ATTACH {_literal(libpq_dsn)} AS pg (TYPE postgres)")
        rows = 0
        con.execute("BEGIN")
        for table in plan.tables:
            columns = ", ".join(quote_pg(column) for column in table.column_names)
            target = f"pg.{quote_pg(table.target.schema)}.{quote_pg(table.target.name)}"
            inserted = con.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} "
                                   f"FROM src.{quote_pg(table.source.name)}").fetchone()
            rows += inserted[0] if inserted else 0
        con.execute("COMMIT")
        return rows
    finally:
        con.close()
