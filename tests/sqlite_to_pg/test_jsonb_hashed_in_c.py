"""The jsonb columns' source side hashed in C, by the built-in loader's readers and by the
source reads beside pgloader and in verify: each source text printed the way Postgres' jsonb
prints it (``native_rows.jsonb_text``) and hashed the way ``hashtextextended`` hashes
(``native_rows.text_hash``), to the sum ``jsonb_verify`` has Postgres compute over a staging
of the source.

Against Postgres itself: the hash on every tail length; each line's sum, from Python's own
jsonb print (``value_functions.jsonb_text``) hashed by Postgres; after a real load, the
target's hash, by both ways of reading; a value changed afterwards still fails verify, named;
a table holding a value the C code leaves to Postgres (a negative zero) is hashed by
the staging instead, which opens no connection for a table whose hash is known.
"""

from __future__ import annotations

import contextlib
import random
from concurrent.futures import Future

import psycopg2
import pytest
from pgloader_support import copy_load, plan_for

from foundation.sqlite_files import BULK_SQLITE
from sqlite_to_pg import native_rows
from sqlite_to_pg.jsonb_source_hashes import JsonbSourceHashes
from sqlite_to_pg.jsonb_verify import anchor_positions, apart_columns, target_hash
from sqlite_to_pg.reader_processes import ReaderProcesses
from sqlite_to_pg.reader_worker import hashed_part
from sqlite_to_pg.row_checksum import MOD, RowChecksum
from sqlite_to_pg.source_checksums import range_checksum, sqlite_checksum
from sqlite_to_pg.source_scan import WHOLE_TABLE, SourcePool
from sqlite_to_pg.value_functions import jsonb_text
from sqlite_to_pg.values import apply_session_settings
from sqlite_to_pg.verify import verify

pytestmark = pytest.mark.requires_pg

JSONS = ['{"b": 1, "a": [1, 2.50, {"z": null, "y": true}], "aa": "x\\u00e9\\n"}',
         '{"a":1,"a":2}', "[]", "{}", '"\\ud83d\\ude00 tab\\t"', "12", "-0.5", "false",
         ' [ 1 ,\n\t2 ]\r\n', '{"k": "back\\\\slash \\/ \\"q\\""}', '"\\u0001\\u001f"',
         '{"deep": ' * 30 + "0" + "}" * 30, "[1.5e-3, 6.02E+23, 0.00e1]"]
LEFT_TO_POSTGRES = ["-0", '{"x": -0.00e5}', "[-0.0]", "1e1001"]


def _pg_hash_sum(cur, texts: list[bytes]) -> int:
    cur.execute('SELECT coalesce(sum(hashtextextended(t COLLATE "C", 0)), 0) '
                "FROM unnest(%s::text[]) t", ([text.decode() for text in texts],))
    return int(cur.fetchone()[0]) % MOD


def _copy_escaped(text: str) -> bytes:
    """A text as the load sends it in a COPY field."""
    return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r").encode())


def _lines(rng: random.Random, count: int) -> tuple[list[bytes], list[bytes]]:
    """COPY rows (id, name, flag, two jsonb fields) and the text ``jsonb_verify`` hashes for
    each, with the anchor (id, flag), in Python."""
    lines, texts = [], []
    for row in range(count):
        docs = [None if rng.random() < 0.1 else rng.choice(JSONS) for _ in range(2)]
        name = b"name \\t" * rng.randint(0, 20)
        fields = [str(row).encode(), name, b"t", *(b"\\N" if doc is None else _copy_escaped(doc)
                                                  for doc in docs)]
        lines.append(b"\t".join(fields) + b"\n")
        printed = [b"\\N" if doc is None else jsonb_text(doc).encode() for doc in docs]
        texts.append(b"\t".join([fields[0], fields[2], *printed]))
    return lines, texts


def test_the_hash_is_postgres_hashtextextended(pg_cursor):
    rng = random.Random(3)
    texts = [bytes(rng.choice(b"ab\t\\") for _ in range(length)) for length in range(40)]
    texts += ["é😀 ".encode() * count for count in (1, 7, 100)]
    for text in texts:
        pg_cursor.execute('SELECT hashtextextended(%s COLLATE "C", 0)', (text.decode(),))
        assert native_rows.text_hash(text) == pg_cursor.fetchone()[0], text


def test_each_lines_jsonb_hash_is_postgres_hash_of_its_jsonb_text(pg_cursor):
    lines, texts = _lines(random.Random(7), 2000)
    left = [b"1\tx\tt\t" + _copy_escaped(text) + b"\t{}\n" for text in LEFT_TO_POSTGRES]
    left += [b"2\tx\tt\t\\x41\t{}\n", b"3\tonly\ttwo fields\n", b"4\tx\tt\t{}\t{\"a\": }\n"]
    expected = RowChecksum()
    expected.add([hashed_part(line, 2) for line in lines + left])
    data = b"".join(lines + left)
    assert native_rows.jsonb_line_checksum(data + b"partial", 2, (0, 2)) == (
        len(lines + left), expected.result[1], len(data), _pg_hash_sum(pg_cursor, texts),
        len(left))


ROWS = 12_000  # several reader chunks, on both readers


def _source(make_sqlite, pg_exec, bodies):
    pg_exec("CREATE TABLE doc (id integer PRIMARY KEY, title text, body jsonb, meta jsonb)")
    rows = [(i, f"title {i}", bodies(i), None if i % 5 else '{"z": 1, "a": [true]}')
            for i in range(1, ROWS + 1)]
    return make_sqlite("CREATE TABLE doc (id INTEGER PRIMARY KEY, title TEXT, body JSON, "
                       "meta JSON);", {"doc": rows})


def _readers_hash(source, table):
    with ReaderProcesses(source) as readers:
        assert readers.native
        stream = readers.stream(table, frozenset(), lambda rows: None,
                                jsonb_anchor=anchor_positions(table))
        while stream.read():
            pass
        readers.ended(stream)
        return stream.jsonb_hash


def _source_reads_hash(source, table):
    """What the source reads beside pgloader and in verify give: the rows' checksum (as
    without the jsonb hash) and the jsonb hash."""
    jsonb = Future()
    with SourcePool(source, library=BULK_SQLITE) as pool:
        assert pool.native
        checksum = pool.submit(range_checksum, table, frozenset(), WHOLE_TABLE, True,
                               jsonb).result()
    assert checksum.result == sqlite_checksum(source, table)
    return jsonb.result()


def test_after_a_load_the_readers_hash_is_the_targets(make_sqlite, pg_exec, pg_url):
    """And a value changed, dropped or swapped between rows afterwards fails verify, named."""
    source = _source(make_sqlite, pg_exec,
                     lambda i: JSONS[i % len(JSONS)].replace("1", str(i), 1))
    plan = plan_for(source, pg_url)
    [table] = plan.tables
    engine = copy_load(plan, source, pg_url)
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        apply_session_settings(cur)
        target = target_hash(cur, table, apart_columns(table))
    assert engine.source_checksums.apart["doc"].result() == target == _readers_hash(source, table)
    assert _source_reads_hash(source, table) == target and target[0] == ROWS
    for change in ("""UPDATE doc SET body = body || '{"extra": 1}' WHERE id = 13""",
                   "UPDATE doc SET meta = NULL WHERE id = 10",
                   "UPDATE doc d SET body = o.body FROM doc o WHERE d.id = 14 AND o.id = 15"):
        with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
            cur.execute(change)
            found = verify(plan, source, conn, source_checksums=engine.source_checksums)
        assert not found.ok, change
        [problem] = found.problems
        assert problem.startswith("doc: jsonb column(s) "), problem
        assert any(f"rows beginning {key}" in problem for key in (10, 13, 14)), problem


def test_a_table_with_a_value_left_to_postgres_is_not_hashed_by_the_readers(
        make_sqlite, pg_exec, pg_url):
    source = _source(make_sqlite, pg_exec, lambda i: '{"n": -0}' if i == 777 else f"[{i}]")
    [table] = plan_for(source, pg_url).tables
    assert _readers_hash(source, table) is None
    assert _source_reads_hash(source, table) is None


def test_the_staging_waits_for_a_known_hash_and_stages_only_without_one(
        make_sqlite, pg_exec, pg_url):
    source = _source(make_sqlite, pg_exec, lambda i: f'{{"n": {i}}}')
    [table] = plan_for(source, pg_url).tables
    nowhere = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    known = Future()
    with JsonbSourceHashes(source, nowhere, [table]) as hashes:
        [future] = hashes.start(known={"doc": known}).values()
        known.set_result((3, 4))
        assert future.result(timeout=5) == (3, 4)  # no connection was opened
    for unknown in (None, RuntimeError("the read failed")):
        known = Future()
        with JsonbSourceHashes(source, pg_url, [table]) as hashes:
            [future] = hashes.start(known={"doc": known}).values()
            if unknown is None:
                known.set_result(None)
            else:
                known.set_exception(unknown)
            assert future.result(timeout=60) == _source_reads_hash(source, table)


def test_a_wide_table_without_a_key_is_loaded_and_verified(make_sqlite, pg_exec, pg_url):
    """120 columns, no primary key: the anchor is every other column, more than the C code
    builds rows for; the jsonb is then verified by the staging, and a change is still found."""
    names = [f"c{i}" for i in range(120)]
    pg_exec(f"CREATE TABLE wide ({', '.join(f'{name} text' for name in names)}, doc jsonb)")
    rows = [tuple(f"{row}-{i}" for i in range(120)) + (f'{{"n": {row}}}',) for row in range(50)]
    source = make_sqlite(f"CREATE TABLE wide ({', '.join(names)}, doc JSON);", {"wide": rows})
    plan = plan_for(source, pg_url)
    engine = copy_load(plan, source, pg_url)
    pg_exec("""UPDATE wide SET doc = '{"n": -1}' WHERE c0 = '7-0'""")
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        found = verify(plan, source, conn, source_checksums=engine.source_checksums)
    assert "wide: jsonb column(s) doc differ" in found.problems[0]


def test_a_table_without_a_known_hash_is_staged_before_waiting_for_one(
        make_sqlite, pg_exec, pg_url):
    pg_exec("CREATE TABLE doc (id integer PRIMARY KEY, body jsonb)")
    pg_exec("CREATE TABLE note (id integer PRIMARY KEY, body jsonb)")
    rows = {name: [(i, f'{{"n": {i}}}') for i in range(1, 101)] for name in ("doc", "note")}
    source = make_sqlite("CREATE TABLE doc (id INTEGER PRIMARY KEY, body JSON); "
                         "CREATE TABLE note (id INTEGER PRIMARY KEY, body JSON);", rows)
    tables = plan_for(source, pg_url).tables
    assert [table.name for table in tables] == ["doc", "note"]
    never = Future()  # doc's hash, still being computed
    with JsonbSourceHashes(source, pg_url, tables) as hashes:
        futures = hashes.start(known={"doc": never})
        assert futures["note"].result(timeout=20)[0] == 100  # not behind doc
        assert not futures["doc"].done()
    assert futures["doc"].done()  # cancelled on leaving, never left waiting
