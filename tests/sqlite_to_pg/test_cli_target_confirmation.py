"""The migration CLI empties tables that hold rows only when told to, and says what it would lose.

Without a terminal and without ``--yes`` it refuses (exit 5) naming the server, the database
(password hidden) and how many rows the truncation would discard, and writes nothing. A
malformed ``--pg`` is refused naming the wrong part, never any part of the password.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.requires_pg

SOURCE = """
CREATE TABLE country (code TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE city (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country_code TEXT);
INSERT INTO country VALUES ('fr', 'France'), ('de', 'Germany');
INSERT INTO city VALUES (1, 'Paris', 'fr');
"""
TARGET = """
CREATE TABLE country (code text PRIMARY KEY, name text NOT NULL);
CREATE TABLE city (id serial PRIMARY KEY, name text NOT NULL,
    country_code text REFERENCES country (code));
INSERT INTO country VALUES ('it', 'Italy'), ('es', 'Spain'), ('pt', 'Portugal');
INSERT INTO city (name, country_code) VALUES ('Rome', 'it'), ('Madrid', 'es');
"""


def _with_password(url: str, password: str) -> str:
    return url.replace("cutover_app@", f"cutover_app:{password}@")


def test_tables_holding_rows_are_not_emptied_without_yes(make_sqlite, migrate, pg_exec, pg_url,
                                                         target_state, engine):
    pg_exec(TARGET)
    pg_exec("ALTER ROLE cutover_app PASSWORD 'Kq4zTarget'")
    before = target_state()
    refused = migrate(make_sqlite(SOURCE), url=_with_password(pg_url, "Kq4zTarget"))
    assert refused.returncode == 5, refused.stdout + refused.stderr
    database = pg_url.rsplit("/", 1)[-1]
    message = refused.stderr
    assert f"database {database} on 127.0.0.1:" in message
    assert "postgresql://cutover_app:***@127.0.0.1:" in message
    assert "hold 5 rows that the load would discard" in message
    assert "country 3" in message and "city 2" in message and "--yes" in message
    assert "Kq4z" not in refused.stdout + refused.stderr
    assert target_state() == before

    done = migrate(make_sqlite(SOURCE), "--yes", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert pg_exec("SELECT code FROM country ORDER BY code") == [("de",), ("fr",)]


@pytest.mark.parametrize("password", ["Kq4z@Wm8v", "Kq4z@Wm8v:Pp2x", "Kq4z/Wm8v", "Kq4z#Wm8v"])
def test_a_malformed_target_url_names_the_wrong_part(make_sqlite, migrate, pg_url, engine,
                                                     password):
    done = migrate(make_sqlite(SOURCE), url=_with_password(pg_url, password))
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "--pg cannot be read" in done.stderr and "percent-encode" in done.stderr
    assert "Kq4z" not in output and "Wm8v" not in output and "Pp2x" not in output
    assert "Traceback" not in output
