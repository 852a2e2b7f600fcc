"""Every kind of finding preflight reports, and the named coercions that may allow one.

The names are what the migration command prints and its JSON report carries; the type table
(``sqlite_to_pg.type_table``) adds those of the types it converts.
"""

from __future__ import annotations

from sqlite_to_pg import type_table

CATEGORIES = {
    "nul-byte": "text containing a NUL byte (Postgres text cannot hold one)",
    "invalid-utf8": "text that is not valid UTF-8",
    "text-in-number-column": "text or a blob in an integer/numeric/float/boolean column",
    "not-an-integer": "a non-integral REAL in an integer column",
    "integer-out-of-range": "an integer outside the target column's range",
    "numeric-overflow": "a number over the column's numeric precision",
    "numeric-rounded": "a number Postgres would round to the column's scale",
    "float-precision": "a number the float column would store inexactly",
    "bad-boolean": "a boolean that is not 0 or 1",
    "bad-datetime": "a date/time that does not parse (or is not of the column's kind)",
    "epoch-in-datetime": "an integer (epoch) in a date/time column",
    "datetime-offset": "a UTC offset a column without time zone would silently drop",
    "invalid-json": "text that is not valid JSON (for this json/jsonb column)",
    "too-long": "a string longer than the column's varchar(n)/char(n)",
    "bad-uuid": "a value that is not a UUID",
    "wrong-type": "a value whose SQLite storage class does not fit the target type",
    "not-null": "NULL in a NOT NULL target column",
    "orphan-fk": "a foreign key value with no row to reference",
    "duplicate-key": "rows a Postgres primary key or unique constraint would refuse",
    "duplicate-under-collation": "values distinct in SQLite that a unique key's collation "
                                 "(non-deterministic, or citext) makes equal in Postgres",
    "not-for-pgloader": "a value pgloader cannot carry (use --engine copy)",
    "schema": "a source table/column with no target, or a target column nothing can fill",
    "unsupported-type": "a target column type this tool does not convert",
    **type_table.CATEGORIES,
}

COERCIONS = {
    "epoch-seconds": "integers in date/time columns are read as Unix seconds (UTC)",
    **type_table.COERCIONS,
}
