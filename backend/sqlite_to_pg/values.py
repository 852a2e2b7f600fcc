"""How a SQLite value becomes a Postgres value — the one place that decides it.

For every supported target type a converter gives three things, as SQL text:

* ``copy_sql(x)`` — a SQLite expression turning the source column ``x`` into the field of a
  COPY text row (escaped; NULL stays NULL). It is also the *canonical text*: exactly what
  Postgres prints for the stored value under ``CANONICAL_SETTINGS`` (escaped the same way).
* ``pg_sql(col)`` — a Postgres expression printing a stored column in that canonical form.
* ``checks(x)`` — SQLite conditions that are true for values Postgres would reject or change.

So the built-in loader sends ``copy_sql``, preflight runs ``checks``, and verify compares hashes
of ``copy_sql`` rows (SQLite side) with hashes of ``pg_sql`` rows (Postgres side): the three can
never disagree about what "equal" means. Values SQL cannot convert exactly (floats, unusual
date/time shapes, jsonb) go through Python functions that ``register_functions`` installs on the
SQLite connection (see ``sqlite_to_pg.value_functions``). This module holds the common types
(``sqlite_to_pg.json_value`` json and jsonb);
``sqlite_to_pg.type_table`` the rest of Postgres' (enums, arrays, interval, inet, ...), both
built on ``sqlite_to_pg.value_base``; docs/types.md is the whole table in prose. The built-in
loader builds the rows of the usual values in C where it can (``sqlite_to_pg.native_rows``), to
the bytes ``copy_sql`` defines here, and falls back to it for every other value.

Conventions: date/time text without an offset is UTC (the session runs with ``TimeZone=UTC``,
as SQLAlchemy stores UTC on SQLite); booleans are the integers 0 and 1; bytea is sent as hex.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace

from sqlite_to_pg import type_functions, type_table, value_functions
from sqlite_to_pg.catalog import TablePlan, TargetColumn, quote_sqlite
from sqlite_to_pg.json_value import JsonValue
from sqlite_to_pg.tab_joined import pg_tab_joined, sqlite_tab_joined
from sqlite_to_pg.value_base import (
    Check,
    Converter,
    escape_sqlite,
    text_as_blob,
    text_checks,
    typeof_in,
)

__all__ = ["Check", "Converter", "converter_for", "is_supported"]

CANONICAL_SETTINGS = {"TimeZone": "UTC", "DateStyle": "ISO, YMD", "extra_float_digits": "1",
                      "bytea_output": "hex", "IntervalStyle": "postgres",
                      "client_encoding": "UTF8"}
NULL_FIELD = r"\N"
# The field sent for a value no converter could carry (a bad value preflight names): the byte
# 0xFF, which no UTF-8 text holds. Whoever streams rows stops at it (``refused_columns``) —
# and Postgres, should it ever receive one, refuses it as invalid UTF-8.
REFUSED_MARK = b"\xff"
REFUSED_FIELD_SQL = "CAST(x'ff' AS TEXT)"

class BooleanValue(Converter):
    escaped = False

    def copy_sql(self, x: str) -> str:
        return (f"CASE WHEN typeof({x}) = 'integer' THEN "
                f"CASE {x} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END END")

    def checks(self, x: str) -> list[Check]:
        return [Check("bad-boolean",
                      f"{x} IS NOT NULL AND NOT (typeof({x}) = 'integer' AND {x} IN (0, 1))",
                      caught_by_load=True)]


INTEGER_RANGES = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1),
                  "int8": (-(2**63), 2**63 - 1)}


class IntegerValue(Converter):
    escaped = False

    def copy_sql(self, x: str) -> str:
        """Integers only (anything else gives NULL, which the load refuses); Postgres refuses
        one out of the column's range."""
        return f"CASE WHEN typeof({x}) = 'integer' THEN {x} END"

    def checks(self, x: str) -> list[Check]:
        low, high = INTEGER_RANGES[self.column.type_name]
        unusual = f"NOT (typeof({x}) IN ('integer', 'null') AND {x} BETWEEN {low} AND {high})"
        return [Check("text-in-number-column", typeof_in(x, "text", "blob"), gate=unusual,
                      caught_by_load=True),
                Check("not-an-integer", typeof_in(x, "real"), gate=unusual,
                      caught_by_load=True),
                Check("integer-out-of-range",
                      f"typeof({x}) = 'integer' AND ({x} < {low} OR {x} > {high})",
                      gate=unusual, caught_by_load=True)]


_INFINITE = "({x} IN (9e999, -9e999))"


class NumericValue(Converter):
    """numeric: INTEGER and REAL, and text that is a decimal literal (parsed in Python)."""

    escaped = False

    def _text_args(self, x: str) -> str:
        precision, scale = self.column.precision, self.column.scale
        return (f"{text_as_blob(x)}, {'NULL' if precision is None else precision}, "
                f"{'NULL' if scale is None else scale}")

    def copy_sql(self, x: str) -> str:
        scale = self.column.scale
        text = f"WHEN 'text' THEN cutover_decimal({self._text_args(x)}) "
        if self.column.precision is None:
            return (f"CASE typeof({x}) WHEN 'integer' THEN CAST({x} AS TEXT) "
                    f"WHEN 'real' THEN cutover_numeric({x}) {text}END")
        zero = "0" + ("." + "0" * scale if scale else "")
        int_suffix = f" || '.{'0' * scale}'" if scale else ""
        return (f"CASE WHEN typeof({x}) = 'integer' THEN CAST({x} AS TEXT){int_suffix} "
                f"WHEN typeof({x}) = 'real' AND {x} = 0 THEN '{zero}' "
                f"WHEN typeof({x}) = 'real' THEN printf('%.{scale}f', {x}) "
                f"WHEN typeof({x}) = 'text' THEN cutover_decimal({self._text_args(x)}) END")

    def _text_problem(self, x: str, category: str) -> str:
        return (f"(typeof({x}) = 'text' AND "
                f"cutover_decimal_problem({self._text_args(x)}) = '{category}')")

    def checks(self, x: str) -> list[Check]:
        checks = [Check("text-in-number-column",
                        f"(typeof({x}) = 'blob' OR {self._text_problem(x, 'text-in-number-column')}"
                        f" OR (typeof({x}) = 'real' AND {_INFINITE.format(x=x)}))")]
        precision, scale = self.column.precision, self.column.scale
        if precision is None:
            return checks
        real = f"typeof({x}) = 'real' AND NOT {_INFINITE.format(x=x)}"
        limit = f"1e{precision - scale}"
        checks.append(Check("numeric-overflow",
                            f"(typeof({x}) = 'integer' AND abs({x}) >= {limit}) OR "
                            f"({real} AND abs(round({x}, {scale})) >= {limit}) OR "
                            f"{self._text_problem(x, 'numeric-overflow')}"))
        checks.append(Check("numeric-rounded",
                            f"({real} AND (round({x}, {scale}) <> {x} OR "
                            f"CAST(printf('%.{scale}f', {x}) AS REAL) <> {x})) OR "
                            f"{self._text_problem(x, 'numeric-rounded')}"))
        return checks


class FloatValue(Converter):
    escaped = False

    @property
    def bits(self) -> int:
        return 32 if self.column.type_name == "float4" else 64

    def copy_sql(self, x: str) -> str:
        fast = "abs({x}) < 1e15" if self.bits == 64 else "abs({x}) < 1e6"
        return (f"CASE WHEN typeof({x}) = 'integer' AND {fast.format(x=x)} "
                f"THEN CAST({x} AS TEXT) "
                f"WHEN {typeof_in(x, 'integer', 'real')} THEN cutover_float({x}, {self.bits}) END")

    def checks(self, x: str) -> list[Check]:
        return [Check("text-in-number-column", typeof_in(x, "text", "blob"),
                      caught_by_load=True),  # copy_sql gives NULL for them
                Check("float-precision",
                      f"{typeof_in(x, 'integer', 'real')} AND "
                      f"NOT cutover_float_exact({x}, {self.bits})")]


class TextValue(Converter):
    def copy_sql(self, x: str) -> str:
        """Text and integers, escaped; a REAL or a blob (which SQLite would turn into text on
        the way) gives NULL, which the load refuses."""
        value = f"rtrim({x}, ' ')" if self.column.type_name == "bpchar" else x
        escaped = escape_sqlite(value, long_values=self.column.max_length is None)
        return f"CASE WHEN {typeof_in(x, 'real', 'blob')} THEN NULL ELSE {escaped} END"

    def checks(self, x: str) -> list[Check]:
        """Text goes to COPY byte for byte (escaped; replace/rtrim keep NUL bytes): Postgres
        refuses a NUL, invalid UTF-8 and a string over varchar(n) itself, and one it shortens
        (trailing spaces over n) is seen by verify; ``copy_sql`` refuses the wrong types."""
        checks = [replace(check, caught_by_load=True) for check in text_checks(x)]
        checks.append(Check("wrong-type", typeof_in(x, "real", "blob"), caught_by_load=True))
        if self.column.max_length is not None:
            checks.append(Check("too-long", f"typeof({x}) = 'text' AND "
                                            f"length({x}) > {self.column.max_length}",
                                caught_by_load=True))
        return checks


# Date/time canonical text is what Postgres prints (``::text`` under ``CANONICAL_SETTINGS``,
# UTC): 'YYYY-MM-DD HH:MM:SS' and the fraction with its trailing zeros cut ('.5', none for a
# whole second; 'HH:MM:SS…' for time). Printing it costs Postgres half what to_char's fixed
# six digits do (docs/benchmarks.md). SQLAlchemy's SQLite storage format,
# 'YYYY-MM-DD HH:MM:SS.ffffff', is the common source shape: SQLite cuts its zeros itself, other
# shapes go through Python (value_functions).
# The shape: d and f stand for digits (f: the fraction's).
_SHAPE = {"timestamptz": "dddd-dd-dd dd:dd:dd.ffffff", "timestamp": "dddd-dd-dd dd:dd:dd.ffffff",
          "date": "dddd-dd-dd", "time": "dd:dd:dd.ffffff"}
_D = "[0-9]"
_CANONICAL_GLOB = {kind: shape.replace("d", _D).replace("f", _D)
                   for kind, shape in _SHAPE.items()}
# The load's cheaper test for that shape: '?' for every digit but the fraction's (a class per
# character costs about 0.4 µs a value). A value that passes but is not canonical has a
# non-digit where a digit belongs: Python's reader refuses it too, and Postgres refuses it at
# COPY or verify sees it (Postgres prints digits there), so the whole preflight names it.
_LOAD_GLOB = {kind: shape.replace("d", "?").replace("f", _D) for kind, shape in _SHAPE.items()}
# …and the whole-second value of that shape, which is sent without its fraction.
_WHOLE_GLOB = {kind: shape.replace("d", "?").replace("f", "0") for kind, shape in _SHAPE.items()}
_PG_FORMAT = {"timestamptz": "({col} AT TIME ZONE 'UTC')::text", "timestamp": "{col}::text",
              "date": "{col}::text",
              # through a timestamp, so 24:00:00 (a time Postgres keeps, Python cannot read)
              # prints as 00:00:00 and differs from its source
              "time": "('2000-01-01'::date + {col})::time::text"}
_VALID_IN_SQL = {  # canonical-shaped values that really are dates/times (checked in preflight)
    # a '+0' modifier makes SQLite normalise (2024-02-30 → 2024-03-01), so invalid dates differ
    "timestamptz": "datetime(substr({x}, 1, 19), '+0 seconds') = substr({x}, 1, 19)",
    "timestamp": "datetime(substr({x}, 1, 19), '+0 seconds') = substr({x}, 1, 19)",
    "date": "date({x}, '+0 days') = {x}",
    "time": "time(substr({x}, 1, 8), '+0 seconds') = substr({x}, 1, 8)",
}


class DateTimeValue(Converter):
    escaped = False

    @property
    def kind(self) -> str:
        return self.column.type_name

    def _epoch_flag(self) -> int:
        return int("epoch-seconds" in self.coercions)

    def copy_sql(self, x: str) -> str:
        """The canonical shape as it is (Postgres refuses one that is no date, and verify sees
        one it stores changed); other shapes through Python, which gives NULL for a value it
        cannot read (the load refuses it)."""
        return (f"CASE WHEN {x} IS NULL THEN NULL "
                f"{self._canonical_shape_sql(x)}"
                f"ELSE cutover_datetime({text_as_blob(x)}, '{self.kind}', {self._epoch_flag()}) "
                f"END")

    def _canonical_shape_sql(self, x: str) -> str:
        """The CASE branches sending a value of the canonical source shape as Postgres prints
        it: a whole second without its fraction, a fraction without its trailing zeros (most
        fractions end in another digit, and rtrim costs more than the test). GLOB and LIKE
        stop at a NUL byte but replace and rtrim keep what follows it, so a value with a NUL
        still carries it to Postgres, which refuses it (substr would drop it)."""
        if "f" not in _SHAPE[self.kind]:
            return f"WHEN {x} GLOB '{_LOAD_GLOB[self.kind]}' THEN {x} "
        return (f"WHEN {x} GLOB '{_WHOLE_GLOB[self.kind]}' THEN replace({x}, '.000000', '') "
                f"WHEN {x} GLOB '{_LOAD_GLOB[self.kind]}' THEN "
                f"CASE WHEN {x} NOT LIKE '%0' THEN {x} ELSE rtrim({x}, '0') END ")

    def pg_text_sql(self, col: str) -> str:
        return _PG_FORMAT[self.kind].format(col=col)

    def checks(self, x: str) -> list[Check]:
        """All but the NUL check behind one gate, "not a valid canonical value" (valid ones are
        ASCII digits and separators; GLOB stops at a NUL, so that check stays outside)."""
        valid = (f"{x} GLOB '{_CANONICAL_GLOB[self.kind]}' AND substr({x}, 1, 4) <> '0000' "
                 f"AND {_VALID_IN_SQL[self.kind].format(x=x)}")
        problem = (f"cutover_datetime_problem({text_as_blob(x)}, '{self.kind}', "
                   f"{self._epoch_flag()})")
        unusual = f"{x} IS NOT NULL AND NOT ({valid})"
        checks = [Check(category, f"{problem} = '{category}'", gate=unusual,
                        caught_by_load=True)
                  for category in ("bad-datetime", "datetime-offset")]
        coercible = self.kind in ("timestamp", "timestamptz")
        checks.append(Check("epoch-in-datetime", f"typeof({x}) = 'integer'",
                            coercion="epoch-seconds" if coercible else None, gate=unusual,
                            caught_by_load=True))
        nul, utf8 = text_checks(x)
        return [*checks, replace(nul, caught_by_load=True),
                Check(utf8.category, utf8.condition, gate=unusual, caught_by_load=True)]

    def checks_before_load(self, x: str) -> list[Check]:
        """Every check is the load's (see ``copy_sql``; a NUL after a canonical value is
        refused by Postgres) but an opted-in coercion's, which preflight counts: behind a
        cheaper gate, "not of the shape ``copy_sql`` sends as it is", as only those go through
        Python."""
        unusual = f"{x} IS NOT NULL AND NOT ({x} GLOB '{_LOAD_GLOB[self.kind]}')"
        return [replace(check, gate=unusual) for check in super().checks_before_load(x)]


class BytesValue(Converter):
    def copy_sql(self, x: str) -> str:
        return f"CASE WHEN typeof({x}) = 'blob' THEN '\\\\x' || lower(hex({x})) END"

    def checks(self, x: str) -> list[Check]:
        return [Check("wrong-type", f"{x} IS NOT NULL AND typeof({x}) <> 'blob'",
                      caught_by_load=True)]  # copy_sql gives NULL for them


_HEX = "[0-9a-fA-F]"


class UuidValue(Converter):
    escaped = False

    def copy_sql(self, x: str) -> str:
        plain = (f"lower(CASE WHEN typeof({x}) = 'blob' THEN hex({x}) "
                 f"ELSE replace({x}, '-', '') END)")
        parts = [f"substr({plain}, {start}, {length})"
                 for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
        dashed = " || '-' || ".join(parts)
        return f"CASE WHEN {x} IS NOT NULL THEN {dashed} END"

    def checks(self, x: str) -> list[Check]:
        dashed = "-".join(_HEX * n for n in (8, 4, 4, 4, 12))
        valid = (f"(typeof({x}) = 'blob' AND length({x}) = 16) OR (typeof({x}) = 'text' AND "
                 f"({x} GLOB '{_HEX * 32}' OR {x} GLOB '{dashed}'))")
        return [Check("bad-uuid", f"{x} IS NOT NULL AND NOT ({valid})")]


CONVERTERS: dict[str, type[Converter]] = {
    "bool": BooleanValue,
    "int2": IntegerValue, "int4": IntegerValue, "int8": IntegerValue,
    "numeric": NumericValue,
    "float4": FloatValue, "float8": FloatValue,
    "text": TextValue, "varchar": TextValue, "bpchar": TextValue, "citext": TextValue,
    "timestamp": DateTimeValue, "timestamptz": DateTimeValue, "date": DateTimeValue,
    "time": DateTimeValue,
    "json": JsonValue, "jsonb": JsonValue,
    "bytea": BytesValue,
    "uuid": UuidValue,
    "money": type_table.money_converter(NumericValue),
    **type_table.CONVERTERS,
}


def converter_for(column: TargetColumn, coercions: frozenset[str] = frozenset()) -> Converter:
    """The converter for a target column; ``KeyError`` when its type is not supported."""
    return CONVERTERS[column.type_name](column, coercions)


def is_supported(column: TargetColumn) -> bool:
    """True when values for this target column type can be converted."""
    if column.type_name in type_table.CONVERTERS:
        return type_table.supported_here(column)
    return column.type_name in CONVERTERS


def quote_pg(name: str) -> str:
    """A Postgres identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def copy_row_sql(columns: tuple[TargetColumn, ...], coercions: frozenset[str] = frozenset(),
                 newline: bool = True, canonical: bool = False, concat_ws: bool = False) -> str:
    """A SQLite expression giving one COPY text row (tab-separated, ``\\N`` for NULL; the
    tab and newline are literals: a ``char()`` call would run for every row). A value that
    converts to nothing (NULL from a non-NULL source) gives ``REFUSED_FIELD_SQL``. ``canonical``:
    jsonb as Postgres prints it (Python, per value) instead of the text as sent.
    ``concat_ws``: joined by one call (``tab_joined``; SQLite 3.44 or later), the same text."""
    fields = [field_sql(col, quote_sqlite(col.name), coercions, canonical) for col in columns]
    joined = sqlite_tab_joined(fields) if concat_ws else " || '\t' || ".join(fields or ["''"])
    return joined + (" || '\n'" if newline else "")


def field_sql(column: TargetColumn, x: str, coercions: frozenset[str] = frozenset(),
              canonical: bool = False) -> str:
    """A SQLite expression giving the COPY field of ``column``'s value ``x``: its converter's
    ``copy_sql`` (``canonical_sql`` if ``canonical``), ``NULL_FIELD`` for NULL and
    ``REFUSED_FIELD_SQL`` for a value that converts to nothing."""
    converter = converter_for(column, coercions)
    value = converter.canonical_sql(x) if canonical else converter.copy_sql(x)
    return (f"coalesce({value}, "
            f"CASE WHEN {x} IS NULL THEN '{NULL_FIELD}' ELSE {REFUSED_FIELD_SQL} END)")


def refused_columns(line: bytes, names: Sequence[str]) -> list[str]:
    """The columns (``names``, in the row's order) of a COPY row from ``copy_row_sql`` whose
    field is ``REFUSED_FIELD_SQL`` (or holds its byte: text that is not UTF-8)."""
    fields = line.rstrip(b"\n").split(b"\t")  # a tab inside a value is escaped as \t
    return [name for name, field in zip(names, fields, strict=False) if REFUSED_MARK in field]


def hashed_columns(columns: tuple[TargetColumn, ...]) -> tuple[TargetColumn, ...]:
    """The columns a row checksum covers: all but those verified apart (jsonb)."""
    return tuple(col for col in columns if converter_for(col).hashed)


def pg_row_sql(columns: tuple[TargetColumn, ...], newline: bool = False) -> str:
    """A Postgres expression giving the same row text for a stored row."""
    fields = [f"coalesce({converter_for(col).pg_sql(quote_pg(col.name))}, '{NULL_FIELD}')"
              for col in columns]
    return pg_tab_joined(fields) + (" || chr(10)" if newline else "")


def copy_row_blob_sql(table: TablePlan, coercions: frozenset[str] = frozenset(),
                      concat_ws: bool = False) -> str:
    """A SQLite expression giving one of ``table``'s COPY rows as UTF-8 bytes, newline
    included, its columns in ``load_columns`` order: a row the built-in loader sends."""
    row = copy_row_sql(load_columns(table), coercions, concat_ws=concat_ws)
    return f"CAST({row} AS BLOB)"


def copy_rows_query(table: TablePlan, coercions: frozenset[str] = frozenset()) -> str:
    """The SQLite query giving every row ``copy_row_blob_sql`` gives."""
    return f"SELECT {copy_row_blob_sql(table, coercions)} FROM {quote_sqlite(table.source.name)}"


def hash_rows_query(table: TablePlan, coercions: frozenset[str] = frozenset()) -> str:
    """The SQLite query giving the rows verify hashes: the COPY text of ``hashed_columns``."""
    return (f"SELECT CAST({copy_row_sql(hashed_columns(table.columns), coercions)} AS BLOB) "
            f"FROM {quote_sqlite(table.source.name)}")


def load_columns(table: TablePlan) -> tuple[TargetColumn, ...]:
    """The order the built-in loader sends ``table``'s columns in: those the row checksum
    covers first, then those verified apart, so each row's hashed text is a prefix of it."""
    hashed = hashed_columns(table.columns)
    return hashed + tuple(col for col in table.columns if col not in hashed)


def apply_session_settings(cur) -> None:
    """Set the fixed session settings every load and verification runs under (on ``cur``)."""
    for name, value in CANONICAL_SETTINGS.items():
        cur.execute("SELECT set_config(%s, %s, false)", (name, value))


def register_functions(conn: sqlite3.Connection) -> None:
    """Install the Python fallbacks the generated SQL calls on a SQLite connection."""
    for name, arity, func in value_functions.FUNCTIONS + type_functions.FUNCTIONS:
        conn.create_function(name, arity, func, deterministic=True)
