"""The Postgres types beyond the common ones: enums, arrays, interval, network and MAC
addresses, timetz, money, bit strings and xml — and what the pgloader engine can carry.

Each converter follows ``sqlite_to_pg.values`` (``copy_sql`` gives the COPY text, which is
also the canonical text; ``pg_sql`` prints a stored value the same way; ``checks`` find what
cannot be loaded exactly). docs/types.md is the table in prose. Domains need no converter of
their own: the catalogue resolves a domain column to its base type (``TargetColumn.domain``
keeps the name) and ``sqlite_to_pg.domain_checks`` asks Postgres about the domain's CHECKs.
"""

from __future__ import annotations

import dataclasses

from sqlite_to_pg.catalog import TargetColumn
from sqlite_to_pg.type_functions import ARRAY_ELEMENT_TYPES
from sqlite_to_pg.value_base import (
    Check,
    Converter,
    escape_sqlite,
    text_as_blob,
    text_checks,
    typeof_in,
)

CATEGORIES = {
    "bad-enum": "a value that is not one of the enum type's labels",
    "bad-interval": "a duration in neither Django's (integer microseconds) nor SQLAlchemy's "
                    "(datetime from 1970-01-01) form",
    "bad-network": "text that is not an inet/cidr value (or a cidr with host bits set)",
    "bad-macaddr": "text that is not a MAC address of the column's size",
    "bad-bit": "a bit string with characters other than 0 and 1, or of the wrong length",
    "bad-xml": "text that is not well-formed XML",
    "bad-array": "a value that is not a JSON array of the column's element type",
    "comma-list": "a comma-separated list in an array column",
    "domain-check": "a value the column's domain CHECK refuses",
}

COERCIONS = {
    "comma-list": "comma-separated text in an array column is split into elements "
                  "(spaces around each element dropped)",
}


def _python_checks(x: str, problem: str, categories: tuple[str, ...]) -> list[Check]:
    """One check per category a ``*_problem`` function can return (NULL never is one)."""
    return [Check(category, f"{problem} = '{category}'", gate=f"{x} IS NOT NULL")
            for category in categories]


class EnumValue(Converter):
    """A native enum: the label as text (SQLAlchemy's ``Enum`` stores it in a VARCHAR)."""

    def copy_sql(self, x: str) -> str:
        return escape_sqlite(x)

    def checks(self, x: str) -> list[Check]:
        labels = ", ".join("'" + label.replace("'", "''") + "'" for label in self.column.labels)
        return text_checks(x) + [
            Check("wrong-type", typeof_in(x, "integer", "real", "blob")),
            Check("bad-enum", f"typeof({x}) = 'text' AND "  # labels are case-sensitive
                              f"{x} COLLATE BINARY NOT IN ({labels or 'NULL'})")]


class IntervalValue(Converter):
    """``interval``: integer microseconds (Django) or a datetime from 1970-01-01 (SQLAlchemy),
    told apart by storage class; canonical text ``'0 mons <days> days <us> usecs'``."""

    escaped = False

    def copy_sql(self, x: str) -> str:
        return f"CASE WHEN {x} IS NOT NULL THEN cutover_interval({text_as_blob(x)}) END"

    def pg_text_sql(self, col: str) -> str:  # no format(): its % would clash with query params
        months = f"(extract(year FROM {col}) * 12 + extract(month FROM {col}))::bigint"
        micros = (f"(extract(hour FROM {col}) * 3600000000 + extract(minute FROM {col}) "
                  f"* 60000000 + extract(microseconds FROM {col}))::bigint")
        return (f"{months}::text || ' mons ' || extract(day FROM {col})::bigint::text "
                f"|| ' days ' || {micros}::text || ' usecs'")

    def checks(self, x: str) -> list[Check]:
        return _python_checks(x, f"cutover_interval_problem({text_as_blob(x)})",
                              ("bad-interval",))


class ParsedTextValue(Converter):
    """Text parsed by a Python fallback: ``cutover_<function>(x, <argument>)`` gives the
    canonical text, ``cutover_<function>_problem`` the one category it can refuse with."""

    escaped = False
    function = ""
    category = ""

    @property
    def argument(self) -> str:
        """The fallback's second argument (SQL), if it takes one."""
        return ""

    def copy_sql(self, x: str) -> str:
        return (f"CASE WHEN {x} IS NOT NULL "
                f"THEN cutover_{self.function}({x}{self.argument}) END")

    def checks(self, x: str) -> list[Check]:
        problem = f"cutover_{self.function}_problem({text_as_blob(x)}{self.argument})"
        return [Check("wrong-type", typeof_in(x, "integer", "real", "blob")),
                *_python_checks(x, problem, (self.category,))]


class NetworkValue(ParsedTextValue):
    """``inet``/``cidr``: address text (Django's ``GenericIPAddressField``), printed
    ``address/prefix`` as ``col::text`` does."""

    function, category = "network", "bad-network"

    @property
    def argument(self) -> str:
        return f", {int(self.column.type_name == 'cidr')}"


class MacValue(ParsedTextValue):
    """``macaddr``/``macaddr8``: the forms Postgres documents, printed lower case with colons."""

    function, category = "mac", "bad-macaddr"

    @property
    def argument(self) -> str:
        return f", {8 if self.column.type_name == 'macaddr8' else 6}"


class TimeTzValue(ParsedTextValue):
    """``timetz``: ``HH:MM[:SS[.f]]`` with an optional offset (none means UTC)."""

    function, category = "timetz", "bad-datetime"


class BitValue(Converter):
    """``bit(n)``/``varbit(n)``: text of 0s and 1s, of exactly n (bit) or at most n (varbit)."""

    escaped = False

    def copy_sql(self, x: str) -> str:
        return x

    def checks(self, x: str) -> list[Check]:
        length = self.column.max_length
        checks = [Check("wrong-type", typeof_in(x, "integer", "real", "blob")),
                  Check("bad-bit", f"typeof({x}) = 'text' AND {x} GLOB '*[^01]*'")]
        if length is not None and self.column.type_name == "bit":
            checks.append(Check("bad-bit", f"typeof({x}) = 'text' AND length({x}) <> {length}"))
        elif length is not None:
            checks.append(Check("too-long", f"typeof({x}) = 'text' AND length({x}) > {length}"))
        return checks


class XmlValue(Converter):
    """``xml``: well-formed content, stored and printed as written."""

    def copy_sql(self, x: str) -> str:
        return escape_sqlite(x)

    def checks(self, x: str) -> list[Check]:
        return text_checks(x) + [
            Check("wrong-type", typeof_in(x, "integer", "real", "blob")),
            Check("bad-xml", f"typeof({x}) = 'text' AND NOT cutover_xml_ok({text_as_blob(x)})")]


class ArrayValue(Converter):
    """A one-dimensional array: JSON array text (a comma list with ``--allow-coercion
    comma-list``); canonical text quotes every element: ``{"1","2",NULL}``."""

    def _args(self, x: str, comma: int) -> str:
        length = self.column.max_length if self.column.max_length is not None else "NULL"
        return f"{text_as_blob(x)}, '{self.column.element_type}', {length}, {comma}"

    def copy_sql(self, x: str) -> str:
        comma = int("comma-list" in self.coercions)
        return escape_sqlite(f"CASE WHEN {x} IS NOT NULL "
                             f"THEN cutover_array({self._args(x, comma)}) END")

    def pg_text_sql(self, col: str) -> str:
        element = ("CASE WHEN e IS NULL THEN 'NULL' ELSE '\"' || "
                   "replace(replace(e::text, '\\', '\\\\'), '\"', '\\\"') || '\"' END")
        listed = (f"array_to_string(ARRAY(SELECT {element} FROM unnest({col}) "
                  f"WITH ORDINALITY AS u(e, n) ORDER BY n), ',')")
        return f"CASE WHEN {col} IS NOT NULL THEN '{{' || {listed} || '}}' END"

    def checks(self, x: str) -> list[Check]:
        comma = int("comma-list" in self.coercions)
        return [Check("comma-list", f"cutover_array_problem({self._args(x, 0)}) = 'comma-list'",
                      coercion="comma-list", gate=f"{x} IS NOT NULL"),
                Check("bad-array", f"cutover_array_problem({self._args(x, comma)}) = 'bad-array'",
                      gate=f"{x} IS NOT NULL")]


def money_converter(numeric: type[Converter]):
    """``money`` as a numeric(18, 2) (the C locale's two decimals), printed ``col::numeric``."""

    class MoneyValue(numeric):
        def __init__(self, column: TargetColumn, coercions: frozenset[str] = frozenset()):
            super().__init__(dataclasses.replace(column, precision=18, scale=2), coercions)

        def pg_text_sql(self, col: str) -> str:
            return f"{col}::numeric::text"

    return MoneyValue


CONVERTERS: dict[str, type[Converter]] = {
    "_enum": EnumValue, "interval": IntervalValue,
    "inet": NetworkValue, "cidr": NetworkValue,
    "macaddr": MacValue, "macaddr8": MacValue,
    "timetz": TimeTzValue, "bit": BitValue, "varbit": BitValue, "xml": XmlValue,
    "_array": ArrayValue,
}


def supported_here(column: TargetColumn) -> bool:
    """True for the columns this module's converters take (arrays: of a listed element)."""
    if column.type_name == "_array":
        return column.element_type in ARRAY_ELEMENT_TYPES
    return column.type_name in CONVERTERS


PGLOADER_CANNOT_CARRY = {
    "interval": "pgloader sends the stored number or datetime text as is, and Postgres reads "
                "an integer as seconds (Django stores microseconds) and refuses SQLAlchemy's "
                "datetime form",
    "_array": "pgloader sends the JSON text as is, which is not an array literal",
    "timetz": "pgloader sends a time without an offset, which Postgres reads in the session's "
              "time zone (this tool reads it as UTC)",
}


def pgloader_can_carry(column: TargetColumn) -> str | None:
    """Why the pgloader engine cannot load this column exactly, or None when it can.

    The pgloader engine's preflight refuses a plan with such a column before anything is
    written (use ``--engine copy``)."""
    reason = PGLOADER_CANNOT_CARRY.get(column.type_name)
    if reason is None:
        return None
    return f"{column.name} ({column.type_sql}): {reason}; use --engine copy"
