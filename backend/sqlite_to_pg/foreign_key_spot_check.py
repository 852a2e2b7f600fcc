"""verify's anti-join spot check of every foreign key of the plan: rows that reference no row.

The keys were re-added (and so validated) by the load; this looks again from the other side,
in full on small tables and on a 1 % block sample of big ones, and names a few orphans.
"""

from __future__ import annotations

from psycopg2 import sql

from sqlite_to_pg.catalog import Plan

SPOT_CHECK_FULL_ROWS = 100_000  # bigger tables get a sampled anti-join
ORPHANS_SHOWN = 10


def spot_check_foreign_keys(cur, plan: Plan, row_counts: dict[str, int]) -> list[str]:
    """Anti-join each foreign key of the plan (sampled on big tables); returns problems."""
    problems = []
    for table in plan.tables:
        sample = (sql.SQL("") if row_counts.get(table.name, 0) <= SPOT_CHECK_FULL_ROWS
                  else sql.SQL(" TABLESAMPLE SYSTEM (1)"))
        for fk in table.target.foreign_keys:
            child = [sql.SQL("c.{}").format(sql.Identifier(name)) for name in fk.columns]
            join = sql.SQL(" AND ").join(
                sql.SQL("p.{} = {}").format(sql.Identifier(ref), col)
                for ref, col in zip(fk.ref_columns, child, strict=True))
            not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in child)
            cur.execute(sql.SQL(
                "SELECT count(*), (array_agg(({}) ORDER BY {}))[1:%s] FROM {} c{} "
                "WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})").format(
                    sql.SQL(" || ', ' || ").join(sql.SQL("{}::text").format(c) for c in child),
                    sql.SQL(", ").join(child), table.target.identifier, sample, not_null,
                    sql.Identifier(plan.schema, fk.ref_table), join), (ORPHANS_SHOWN,))
            orphans, values = cur.fetchone()
            if orphans:
                problems.append(
                    f"foreign key {table.name}.{fk.name} ({', '.join(fk.columns)}): {orphans} "
                    f"rows reference no row of {fk.ref_table}, e.g. "
                    f"{', '.join(f'({value})' for value in values)}")
    return problems
