"""jsonb's text form and json/jsonb validity, computed in Python, against Postgres itself.

The copy engine sends ``value_functions.jsonb_text`` of each JSON value and verify compares it
with ``payload::text``; preflight's ``json_ok`` must refuse exactly what jsonb refuses (and
never pass what json refuses).
"""

from __future__ import annotations

import json
import random
import re

import psycopg2
import pytest

from sqlite_to_pg import native_rows
from sqlite_to_pg.value_functions import json_ok, jsonb_text

pytestmark = pytest.mark.requires_pg

EDGES = ['{}', '[]', '""', '0', '-0', '-0.0', '1e2', '1E-3', '1.50', '123.000', '-1.5e-7',
         '12345678901234567890123', '6.02214076e+23', '[-0, 0.00]', ' [1 , 2 ,{"x" :"y"}] ',
         '{"b":1,"a":2,"aa":3,"a":4}', '{"é":1,"e":2,"zz":[true,false,null]}',
         '"\\u00e9\\ud83d\\ude00"', '"tab\\there\\n"', '"\\u0001\\u001f\\u007f"', '"\\/x\\\\"',
         '{"k":"\\u2028\\u2029"}', '"\x7f"', '"\\u0000"', '"\\ud800"', '{"a":NaN}', 'Infinity',
         '[1,]', '{"a" 1}', '"\\x"']
ALPHABET = "aé😀\t\"\\/ x\u2028_"


def _random_json(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([None, True, False, rng.randint(-10**6, 10**6),
                           rng.random() * 10 ** rng.randint(-8, 8),
                           "".join(rng.choices(ALPHABET, k=rng.randint(0, 6)))])
    if roll < 0.65:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {"".join(rng.choices(ALPHABET, k=rng.randint(0, 4))): _random_json(rng, depth + 1)
            for _ in range(rng.randint(0, 5))}


def _corpus() -> list[str]:
    rng = random.Random(20261201)
    return EDGES + [json.dumps(_random_json(rng), ensure_ascii=rng.random() < 0.5)
                    for _ in range(400)]


def test_jsonb_text_and_json_ok_agree_with_postgres(pg_url):
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        for text in _corpus():
            for kind, binary in (("json", 0), ("jsonb", 1)):
                cur.execute("SAVEPOINT s")
                try:
                    cur.execute(f"SELECT %s::{kind}::text", (text,))
                    printed = cur.fetchone()[0]
                except psycopg2.DataError:
                    cur.execute("ROLLBACK TO SAVEPOINT s")
                    printed = None
                if binary:
                    assert json_ok(text, 1) == int(printed is not None), text
                    if printed is not None:
                        assert jsonb_text(text) == printed, text
                elif json_ok(text, 0):  # json also takes a lone \ud800 that json_ok refuses
                    assert printed is not None, text


def _handled_in_c(text: str) -> bool:
    """What the C form (``native_rows.jsonb_text``) must handle: every text Postgres takes but
    negative zeros and exponents past 1000."""
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    exponents = [int(power) for power in re.findall(r"[eE][+-]?(\d+)", outside_strings)]
    return not re.search(r"-0(\.0+)?(?![\d.])", outside_strings) and max(exponents,
                                                                         default=0) <= 1000


WIDE = [json.dumps({f"k{i % 23}{'x' * (i % 5)}": i for i in range(60)}),  # merged, duplicates
        json.dumps({"é" * (i % 4) + chr(0x41 + i % 26): [i, {"b": i, "a": -i}] for i in range(40)}),
        "[" * 150 + "1" + "]" * 150, "[" * 250 + "]" * 250]
# numbers with an exponent: numeric moves the point and keeps (fraction digits - exponent)
EXPONENTS = ["1.50e1", "1.234e1", "123e-1", "0e5", "0.00e1", "0.05e1", "100e-2", "-7.25E+2",
             "5.0e0", "1e-10", "12345678901234567890123e-30", "[1e1000]", "1e1001", "-0e1",
             '{"a": 2.5E+3, "b": [-1.5e-3]}']


def test_the_c_jsonb_text_is_postgres_own_print(pg_url):
    """Verify hashes the C form of each jsonb source text (``native_rows``): where it gives
    one, it is Postgres' print byte for byte; it declines only negative zeros, exponents past
    1000, very deep nesting and what Postgres refuses."""
    handled = 0
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        for text in _corpus() + WIDE + EXPONENTS:
            cur.execute("SAVEPOINT s")
            try:
                cur.execute("SELECT %s::jsonb::text", (text,))
                printed = cur.fetchone()[0].encode()
            except psycopg2.DataError:
                cur.execute("ROLLBACK TO SAVEPOINT s")
                printed = None
            mine = native_rows.jsonb_text(text.encode())
            if printed is None or not _handled_in_c(text) or text.startswith("[" * 250):
                assert mine is None, text
                continue
            assert mine == printed, text
            handled += 1
    assert handled > 300
