"""How a json or jsonb value goes from SQLite to Postgres (a converter of ``sqlite_to_pg.values``).

The text goes as it is and Postgres parses it; preflight's verdict on the text is SQLite's own
``json_valid`` where it judges as Postgres would, Python's (``value_functions``) elsewhere.
"""

from __future__ import annotations

from dataclasses import replace

from sqlite_to_pg.value_base import (
    Check,
    Converter,
    escape_sqlite,
    text_as_blob,
    text_checks,
    typeof_in,
)


def _json_refused(x: str, binary: int) -> str:
    """True for JSON text Postgres' json (``binary=0``) or jsonb refuses. SQLite's own
    ``json_valid`` (C) decides plain text; Python decides text it refuses or that holds a NUL
    or a multi-byte character (its length in characters is not its length in bytes:
    json_valid stops at a NUL and lets any byte be), and checks the ``\\u`` escapes of the
    rest (``\\u0000`` and lone surrogates json_valid takes)."""
    as_blob = text_as_blob(x)
    return (f"CASE WHEN NOT json_valid({x}) OR length({x}) <> length(CAST({x} AS BLOB)) "
            f"THEN NOT cutover_json_ok({as_blob}, {binary}) "
            f"WHEN instr({x}, '\\u') > 0 THEN NOT cutover_json_escapes_ok({as_blob}, {binary}) "
            f"ELSE 0 END")


class JsonValue(Converter):
    """json and jsonb: the text goes to Postgres as it is, and Postgres parses it.

    jsonb stores its own form of the text (keys sorted, spacing, numbers), which SQLite cannot
    print: its columns are ``hashed = False``, left out of the row checksums and verified
    apart (``sqlite_to_pg.jsonb_verify``: Postgres parses the source text a second time, fed
    as CSV). ``canonical_sql`` still prints that form in Python, for the few rows the online
    rounds compare one by one.
    """

    @property
    def hashed(self) -> bool:
        return self.column.type_name != "jsonb"

    def copy_sql(self, x: str) -> str:
        return escape_sqlite(self.raw_sql(x), long_values=True)

    def raw_sql(self, x: str) -> str:
        """The source text as sent, unescaped (numbers as their text)."""
        return (f"CASE typeof({x}) WHEN 'text' THEN {x} WHEN 'integer' THEN CAST({x} AS TEXT) "
                f"WHEN 'real' THEN cutover_numeric({x}) END")

    def canonical_sql(self, x: str) -> str:
        if self.column.type_name == "jsonb":
            return escape_sqlite(f"CASE WHEN typeof({x}) IN ('text', 'integer', 'real') "
                                 f"THEN cutover_jsonb({x}) END")
        return self.copy_sql(x)

    def checks(self, x: str) -> list[Check]:
        """For jsonb, Postgres refuses in COPY a NUL, invalid UTF-8, invalid JSON, a lone
        surrogate and ``\\u0000``, and the load refuses a blob (``raw_sql`` gives NULL). json
        is stored as it is, so its text checks come first (as Postgres' json accepts
        ``\\u0000`` and lone surrogates that jsonb refuses)."""
        binary = int(self.column.type_name == "jsonb")
        return [replace(check, caught_by_load=bool(binary)) for check in text_checks(x)] + [
            Check("wrong-type", typeof_in(x, "blob"), caught_by_load=True),  # raw_sql: NULL
            Check("invalid-json", f"typeof({x}) = 'text' AND {_json_refused(x, binary)}",
                  caught_by_load=bool(binary)),
        ]
