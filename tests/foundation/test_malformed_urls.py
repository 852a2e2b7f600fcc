"""No part of a password is ever shown, however malformed the URL; errors name the wrong part.

Every password below is made of the pieces in ``PIECES``, joined by the characters that break
a URL when left unencoded; none of the pieces may appear in any output.
"""

from __future__ import annotations

import pytest

from foundation.database_urls import (
    DatabaseUrlError,
    describe_database,
    libpq_url,
    parse_url,
    redact_text,
    redact_url,
    sqlalchemy_url,
)

PIECES = ("Xy7q", "Qz9w", "Wv3e", "Ut5r")


def _password(separator: str) -> str:
    return separator.join(PIECES)


def _assert_hidden(text: str) -> None:
    leaked = [piece for piece in PIECES if piece in text]
    assert not leaked, f"password pieces {leaked} in: {text}"


MALFORMED = {
    # url: the words the error must contain (which part is wrong)
    f"postgresql://app:{_password('@')}@db.internal:5432/app": ["'@'", "%40"],
    f"postgresql://app:{_password('@')}:{PIECES[0]}@db:5432/app": ["'@'", "%40"],
    f"postgresql://app:{_password('/')}@db:5432/app": ["'/'", "%2F"],
    f"postgresql://app:{_password('?')}@db:5432/app": ["'?'", "%3F"],
    f"postgresql://app:{_password('#')}@db:5432/app": ["'#'", "%23"],
    f"postgresql://app:{PIECES[0]}/app": ["port", "'@'"],  # the host is missing
    f"postgresql://app:{PIECES[0]}@db:54x2/app": ["port"],
    f"postgresql://app:{PIECES[0]}@[::1:5432/app": ["IPv6"],
    f"postgresql//app:{PIECES[0]}@db/app": ["scheme"],
    f"app:{PIECES[0]}@db/app": ["scheme"],
}


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_is_refused_naming_the_part_and_never_the_password(url):
    for convert in (parse_url, sqlalchemy_url, libpq_url):
        with pytest.raises(DatabaseUrlError) as excinfo:
            convert(url, "SQLALCHEMY_DATABASE_URL")
        message = str(excinfo.value)
        _assert_hidden(message)
        assert "SQLALCHEMY_DATABASE_URL" in message
        for word in MALFORMED[url]:
            assert word in message, message
    _assert_hidden(redact_url(url))
    _assert_hidden(redact_text(f"could not connect to {url}: timeout"))


@pytest.mark.parametrize(("url", "shown"), [
    (f"postgresql://app:{_password('@')}@db:5432/app", "postgresql://app:***@db:5432/app"),
    (f"postgresql://app:{_password(':')}@db:5432/app", "postgresql://app:***@db:5432/app"),
    (f"postgresql://:{PIECES[0]}@db/app", "postgresql://:***@db/app"),
    (f"postgresql://app:{PIECES[0]}@[::1]:5432/app", "postgresql://app:***@[::1]:5432/app"),
    (f"postgresql://app:{PIECES[0]}%40{PIECES[1]}@h/app", "postgresql://app:***@h/app"),
    (f"postgresql://app@h/app?sslmode=require&password={PIECES[0]}",
     "postgresql://app@h/app?sslmode=require&password=***"),
    (f"postgresql://app:{PIECES[0]} {PIECES[1]}@h/app", "postgresql://app:***@h/app"),
    (f"host=h dbname=app user=app password='{PIECES[0]} \\' {PIECES[1]}' sslmode=require",
     "host=h dbname=app user=app password=*** sslmode=require"),
    (f"host=h password={PIECES[0]} port=5432", "host=h password=*** port=5432"),
    ("postgresql://app@h:5432/app", "postgresql://app@h:5432/app"),
    ("postgresql://h/app", "postgresql://h/app"),
    ("postgresql:///app?host=/run/postgresql", "postgresql:///app?host=/run/postgresql"),
    ("sqlite:////srv/data@2024/booking.db", "sqlite:////srv/data@2024/booking.db"),
])
def test_redact_url_hides_every_shape_of_password(url, shown):
    assert redact_url(url) == shown


def test_redact_text_finds_urls_dsns_and_env_assignments_in_free_text():
    text = (f"pgloader failed on postgresql://app:{_password('@')}@db/app (retry); "
            f"'postgres://b:{PIECES[1]}@[fe80::1]:5433/x', dsn \"host=h password={PIECES[2]}\" "
            f"and PGPASSWORD={PIECES[3]} ./migrate")
    shown = redact_text(text)
    _assert_hidden(shown)
    assert "postgresql://app:***@db/app (retry)" in shown
    assert "postgres://b:***@[fe80::1]:5433/x'" in shown
    assert "PGPASSWORD=*** ./migrate" in shown


@pytest.mark.parametrize("url", [
    "postgresql://app:pw@db:5432/app",
    "postgres://app:pw@db:5432/app",
    "postgresql+psycopg2://app:pw@db:5432/app",
])
def test_every_postgres_spelling_opens_with_the_installed_psycopg2(url):
    assert sqlalchemy_url(url) == "postgresql+psycopg2://app:pw@db:5432/app"
    assert libpq_url(url) == "postgresql://app:pw@db:5432/app"


def test_an_encoded_password_survives_both_forms():
    url = "postgresql://app:p%40ss%3Aw%2Frd@db/app"
    assert parse_url(sqlalchemy_url(url)).password == "p@ss:w/rd"
    assert parse_url(libpq_url(url)).password == "p@ss:w/rd"


def test_describe_database_names_server_and_database_without_the_password():
    shown = describe_database(f"postgresql://app:{PIECES[0]}@db.internal:6432/appdb")
    assert shown == ("database appdb on db.internal:6432 "
                     "(postgresql://app:***@db.internal:6432/appdb)")


def test_redacting_a_json_report_keeps_it_json():
    """The runbook redacts its JSON report as text: ports, quotes and commas must survive."""
    import json

    report = {"api": "http://127.0.0.1:45678", "target": "postgresql://u:Xy7q@h:5432/db",
              "odd": [f"postgresql://admin:{PIECES[1]}", "next"], "log": "a http://h:80\nb"}
    shown = redact_text(json.dumps(report, indent=2))
    _assert_hidden(shown)
    assert json.loads(shown) == {**report, "target": "postgresql://u:***@h:5432/db",
                                 "odd": ["postgresql://admin:***", "next"]}
