"""The pieces every value converter is made of: preflight checks, COPY escaping, the base class.

``sqlite_to_pg.values`` (the common types) and ``sqlite_to_pg.type_table`` (the rest of
Postgres' types) build their converters from these; see ``values`` for what a converter gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_to_pg.catalog import TargetColumn


@dataclass(frozen=True)
class Check:
    """A preflight condition: ``condition`` (SQLite SQL) is true for a bad value.

    ``gate``, when set, is true for every row ``condition`` can be true for and shared by
    several checks of a column: preflight counts the gate once per row and evaluates the
    checks behind it only on the rows it lets through (none, for clean data)."""

    category: str
    condition: str
    coercion: str | None = None  # a named --allow-coercion that turns this into a conversion
    gate: str | None = None
    # True when the built-in loader refuses such a value by itself: its ``copy_sql`` gives
    # NULL for it (the load then sends ``values.REFUSED_FIELD_SQL`` and stops), Postgres rejects
    # it in COPY (or when the keys are rebuilt), or stores it changed, which verify sees. The
    # preflight before a copy load leaves these out; a load that fails runs them all.
    caught_by_load: bool = False

    @property
    def full_condition(self) -> str:
        """The condition with its gate first (cheap to evaluate on its own)."""
        return f"({self.gate}) AND ({self.condition})" if self.gate else self.condition


def escape_sqlite(expr: str, long_values: bool = False) -> str:
    """COPY text escaping in SQLite SQL: backslash, tab, newline and carriage return.

    Only values containing one of them (one GLOB test) pay for the four replace() calls; for
    ``long_values`` (unbounded text, JSON) the four calls cost less than the GLOB over the
    whole value, so they always run (measured on 300-character texts: 1.7 s against 2.2 s
    for the GLOB alone per million, 3.6 s with the calls after it; on short ones the GLOB wins).
    """
    replaced = (f"replace(replace(replace(replace({expr}, '\\', '\\\\'), char(9), '\\t'), "
                f"char(10), '\\n'), char(13), '\\r')")
    if long_values:
        return replaced
    return f"CASE WHEN {expr} GLOB '*[\\\t\n\r]*' THEN {replaced} ELSE {expr} END"


def escape_pg(expr: str) -> str:
    """The same COPY text escaping in Postgres SQL, on the bytes: ``COLLATE "C"`` keeps a
    column's own collation (a non-deterministic ICU one refuses ``replace``) out of it."""
    collated = f'({expr}) COLLATE "C"'
    return (f"replace(replace(replace(replace({collated}, '\\', '\\\\'), chr(9), '\\t'), "
            f"chr(10), '\\n'), chr(13), '\\r')")


def text_as_blob(x: str) -> str:
    """Text handed to Python as bytes, so invalid UTF-8 cannot break the query."""
    return f"CASE WHEN typeof({x}) = 'text' THEN CAST({x} AS BLOB) ELSE {x} END"


def typeof_in(x: str, *kinds: str) -> str:
    return f"typeof({x}) IN ({', '.join(repr(kind) for kind in kinds)})"


class Converter:
    """Base converter: values rendered by ``col::text`` on Postgres, escaped."""

    escaped = True

    def __init__(self, column: TargetColumn, coercions: frozenset[str] = frozenset()) -> None:
        self.column = column
        self.coercions = coercions

    hashed = True  # False: left out of row checksums and verified apart (see values)

    def copy_sql(self, x: str) -> str:
        raise NotImplementedError

    def canonical_sql(self, x: str) -> str:
        """The canonical text where it is not what the load sends (see json_value.JsonValue)."""
        return self.copy_sql(x)

    def pg_text_sql(self, col: str) -> str:
        """A Postgres expression giving the stored column's canonical text, unescaped: what the
        row hash hashes (``row_hash``); a COPY row holds it escaped the way ``copy_sql``
        escapes."""
        return f"{col}::text"

    def pg_sql(self, col: str) -> str:
        """``pg_text_sql`` escaped in SQL where the value may need it: the field as it stands
        in a COPY row."""
        text = self.pg_text_sql(col)
        return escape_pg(text) if self.escaped else text

    def checks(self, x: str) -> list[Check]:
        return []

    def checks_before_load(self, x: str) -> list[Check]:
        """The checks the built-in loader needs before it writes: those it cannot catch, and
        those an opted-in coercion covers (preflight counts what each coercion converts)."""
        return [check for check in self.checks(x)
                if not check.caught_by_load or check.coercion in self.coercions]


_NON_ASCII = "'*[^' || char(1) || '-' || char(127) || ']*'"  # only these need a UTF-8 check


def text_checks(x: str) -> list[Check]:
    """NUL bytes and invalid UTF-8: for every column holding text."""
    as_bytes = f"CAST({x} AS BLOB)"
    return [Check("nul-byte", f"typeof({x}) = 'text' AND instr({as_bytes}, x'00') > 0"),
            Check("invalid-utf8", f"typeof({x}) = 'text' AND {x} GLOB {_NON_ASCII} "
                                  f"AND NOT cutover_utf8_ok({as_bytes})")]
