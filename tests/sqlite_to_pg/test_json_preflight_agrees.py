"""Preflight's invalid-json verdict (SQLite's json_valid first, Python where it cannot decide)
against Postgres' own ``::json`` / ``::jsonb`` casts, on texts where the two parsers differ."""

from __future__ import annotations

import sqlite3

import psycopg2
import pytest
from test_jsonb_text import _corpus

from sqlite_to_pg.catalog import TargetColumn
from sqlite_to_pg.values import converter_for, register_functions

pytestmark = pytest.mark.requires_pg

TRICKY = ['01', '-01', '1.', '.5', '+1', '1e', '1e+', '-', '0x10', '1E400', '1e999', '-0e-5',
          'tru', 'nulll', 'TRUE', '', ' ', '1 2', '[1] x', '"a', "'a'", '{a:1}', '{"a":1,}',
          '[,1]', '\t[1]\r\n', '\f[1]', '\v1', '"\t"', '"\n"', '"\x01"', '"\x1f"', '"\\x"',
          '"\\\'"', '"\\0"', '"\\u12"', '"\\u12g4"', '"\\U0041"', '"\\u0000"', '"\\\\u0000"',
          '"\\ud800"', '"\\udc00"', '"\\ud83d\\ude00"', '"\\ude00\\ud83d"', '"\\ud83dx"',
          '"\\uD83D\\uDE00"', '[' * 1500 + ']' * 1500, '{"a":1,"a":2}', '/* c */ 1', '1 // c',
          'NaN', '-Infinity', '[1,2', '{"a" "b"}', '"é"', '"😀"', 'null\x00', '"\x7f"',
          '[Infinity]', '"\\/"', '"\\\\ud800"', '"\\ud83d\\\\ude00"', '"\\ud83d\\u0041"',
          '["\\ud83d", "\\ude00"]', '{"\\u0000": 1}', '"\\\\\\ud800"', '"\\ud83d\\ud83d\\ude00"',
          '{"":""}', '[[[[]]]]', '0', '-0', '1e-400', '123abc']


def _preflight_refuses(texts: list[str], kind: str) -> list[bool]:
    column = TargetColumn("v", kind, kind, not_null=False, has_default=False)
    check = next(c for c in converter_for(column).checks('"v"') if c.category == "invalid-json")
    src = sqlite3.connect(":memory:")
    register_functions(src)
    src.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
    src.executemany("INSERT INTO t (n, v) VALUES (?, ?)", enumerate(texts))
    # CASE WHEN, as preflight's sums: it stops at the first false term (a bare AND may not)
    query = f"SELECT CASE WHEN {check.condition} THEN 1 ELSE 0 END FROM t ORDER BY n"
    return [bool(hit) for (hit,) in src.execute(query)]


def _postgres_refuses(cur, text: str, kind: str) -> bool:
    cur.execute("SAVEPOINT s")
    try:
        cur.execute(f"SELECT %s::{kind}", (text,))
    except psycopg2.DataError:
        cur.execute("ROLLBACK TO SAVEPOINT s")
        return True
    return False


@pytest.mark.parametrize("kind", ["jsonb", "json"])
def test_invalid_json_verdict_agrees_with_postgres(pg_url, kind):
    texts = [text for text in TRICKY + _corpus() if "\x00" not in text]  # libpq sends no NUL
    refused = _preflight_refuses(texts, kind)
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        wrong = [text for text, verdict in zip(texts, refused, strict=True)
                 if verdict != _postgres_refuses(cur, text, kind)
                 and not (kind == "json" and verdict)]  # json takes a lone \ud800 json_ok refuses
    assert wrong == []


def test_json_valid_decides_only_the_plain_texts():
    """A NUL ends json_valid's text; the preflight still names the value invalid JSON."""
    assert _preflight_refuses(["null\x00x", '"a\x00"', "[1]"], "jsonb") == [True, True, False]
