"""Sakila, a public database no one here wrote (shared/data/sakila): 13 tables keyed by
sequences that are not OWNED BY their column, inheritance partitions with rules, a tsvector
filled by a trigger, views over the tables.

* variant orig: the source and target disagree — refused, naming every place, nothing written;
* variant adapted, into the published target schema: refused for the 5 payments without a
  rental (NOT NULL in the Postgres schema: a real disagreement, not a type);
* variant adapted, into that schema with that one NOT NULL dropped: the copy engine loads it
  exactly into the published types (enum ``mpaa_rating``, domain ``year``, the comma lists of
  ``special_features`` into ``text[]`` with ``--allow-coercion comma-list``, the target-only
  ``tsvector`` filled by the target's trigger), and every table takes a new row with a default
  key afterwards. pgloader cannot carry the array: it is refused before anything is written, and
  with that one column made ``text`` pgloader loads the rest exactly too.
"""

from __future__ import annotations

import gzip
import shutil
import stat
from pathlib import Path

import pytest
from test_preflight import refused

pytestmark = pytest.mark.requires_pg

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sakila"
SCHEMA = DATA / "sakila-pg-schema.sql"
PAYMENT_RENTAL_NOT_NULL = ("    rental_id integer NOT NULL,\n    amount",
                           "    rental_id integer,\n    amount")
SEQUENCE_KEYS = {"actor": "actor_id", "category": "category_id", "country": "country_id",
                 "language": "language_id", "city": "city_id", "film": "film_id",
                 "address": "address_id", "customer": "customer_id",
                 "inventory": "inventory_id", "payment": "payment_id", "rental": "rental_id",
                 "staff": "staff_id", "store": "store_id"}
# a copy of an existing row would break these unique indexes; the new row differs here
NEW_ROW_OVERRIDES = {"rental": {"rental_date": "now()"},
                     "store": {"manager_staff_id": "(SELECT max(staff_id) FROM staff)"}}


def sakila(tmp_path: Path, variant: str) -> Path:
    """A read-only, gunzipped copy of one variant (never the shared file)."""
    name = {"orig": "sakila.sqlite.gz", "adapted": "sakila-adapted.sqlite.gz"}[variant]
    if not (DATA / name).exists():
        pytest.fail(f"missing test data: {DATA / name}")
    copy = tmp_path / f"sakila-{variant}.sqlite"
    with gzip.open(DATA / name) as packed, copy.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    copy.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return copy


def target_schema(*replacements: tuple[str, str]) -> str:
    text = SCHEMA.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def insert_a_new_row(pg_exec, table: str, key: str) -> None:
    """Copy a row with every column but the key (defaulted), as the application would add."""
    columns = [name for (name,) in pg_exec(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s AND column_name <> %s ORDER BY ordinal_position", (table, key))]
    overrides = NEW_ROW_OVERRIDES.get(table, {})
    values = ", ".join(overrides.get(name, f'"{name}"') for name in columns)
    names = ", ".join(f'"{name}"' for name in columns)
    pg_exec(f'INSERT INTO "{table}" ({names}) SELECT {values} FROM "{table}" '
            f'ORDER BY "{key}" LIMIT 1')  # no RETURNING: payment's rules forbid it


def test_the_orig_variant_is_refused_naming_every_disagreement(
        tmp_path, engine, migrate, pg_exec, target_state):
    pg_exec(target_schema())

    output = refused(migrate, sakila(tmp_path, "orig"), target_state, "bad-datetime",
                     "customer.create_date: 599 row(s)")

    for place in ("customer.active: 599 row(s)", "film.release_year: 1,000 row(s)",
                  "payment.rental_id: 5 row(s)",
                  "film_text: 1 row(s) [source table has no target table",
                  "payment.last_update: 1 row(s) [source column has no target column]"):
        assert place in output, place


def test_the_adapted_variant_into_the_published_schema_names_the_null_rentals(
        tmp_path, migrate, pg_exec, target_state, engine):
    pg_exec(target_schema())

    output = refused(migrate, sakila(tmp_path, "adapted"), target_state, "not-null",
                     "payment.rental_id: 5 row(s) (blocks the load)")

    assert "rowid 424: None" in output


def _loads_exactly_and_every_table_takes_a_new_row(done, pg_exec) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert "done: 46,273 rows in 15 tables, verified" in done.stdout
    assert "sequences reset (13)" in done.stdout + done.stderr
    for table, key in SEQUENCE_KEYS.items():
        [(before,)] = pg_exec(f'SELECT max("{key}") FROM "{table}"')
        insert_a_new_row(pg_exec, table, key)
        assert pg_exec(f'SELECT max("{key}") FROM "{table}"') == [(before + 1,)], table
    # the target's own trigger filled the target-only tsvector of every film
    assert pg_exec("SELECT count(*) FROM film WHERE fulltext = ''::tsvector") == [(0,)]
    assert pg_exec("SELECT count(*) FROM film WHERE rating::text NOT IN "
                   "('G', 'PG', 'PG-13', 'R', 'NC-17')") == [(0,)]


def test_the_adapted_variant_loads_exactly_into_the_published_types(
        tmp_path, engine, pg_exec, migrate):
    pg_exec(target_schema(PAYMENT_RENTAL_NOT_NULL))

    done = migrate(sakila(tmp_path, "adapted"), "--allow-coercion", "comma-list")

    _loads_exactly_and_every_table_takes_a_new_row(done, pg_exec)
    assert pg_exec("SELECT special_features FROM film WHERE film_id = 1") == [
        (["Deleted Scenes", "Behind the Scenes"],)]
    assert pg_exec("SELECT pg_typeof(rating)::text FROM film LIMIT 1") == [("mpaa_rating",)]


def test_a_comma_list_array_is_refused_before_writing_and_as_text_loads_exactly(
        tmp_path, engine, pg_exec, migrate, target_state):
    """Without the coercion (pgloader: at all) the array is refused, naming the column; the
    target is untouched. With the column as text, both engines load everything exactly."""
    pg_exec(target_schema(PAYMENT_RENTAL_NOT_NULL))
    before = target_state()

    done = migrate(sakila(tmp_path, "adapted"))

    assert done.returncode != 0, done.stdout
    assert "film.special_features" in done.stdout + done.stderr
    assert target_state() == before

    pg_exec("ALTER TABLE film ALTER COLUMN special_features TYPE text")
    done = migrate(sakila(tmp_path, "adapted"))

    _loads_exactly_and_every_table_takes_a_new_row(done, pg_exec)
