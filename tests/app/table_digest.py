"""Every table of a database as (row count, content checksum), to show that nothing was written.

The checksum is the sha256 of the rows sorted by their text form (json columns have no order on
PostgreSQL), so any insert, update or delete shows, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, MetaData, func, select


def table_digests(engine: Engine) -> dict[str, tuple[int, str]]:
    """``{table: (rows, sha256 of its content)}`` for every table the database has."""
    tables = MetaData()
    tables.reflect(engine)
    digests = {}
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            count = connection.scalar(select(func.count()).select_from(table))
            content = hashlib.sha256()
            for row in sorted(repr(tuple(row)) for row in connection.execute(select(table))):
                content.update(row.encode())
            digests[table.name] = (count, content.hexdigest())
    return digests
