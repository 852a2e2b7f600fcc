"""Passwords never leave the process: every URL shown to an operator is redacted."""

import pytest

from foundation.database_urls import (
    libpq_url,
    redact_text,
    redact_url,
    sqlalchemy_url,
    with_database,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("postgresql+psycopg2://app:p%40ss@127.0.0.1/app", "postgresql+psycopg2://app:***@127.0.0.1/app"),
        ("postgresql://app@db/app?password=hunter2&sslmode=require",
         "postgresql://app@db/app?password=***&sslmode=require"),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("sqlite:///./booking.db", "sqlite:///./booking.db"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_hides_every_url_in_a_message() -> None:
    message = "could not reach postgresql://a:one@h1/db nor postgres://b:two@h2/db"
    shown = redact_text(message)
    assert "one" not in shown and "two" not in shown
    assert shown.count("***") == 2


def test_driver_conversions_keep_credentials_and_database() -> None:
    assert libpq_url("postgresql+psycopg2://u:p@h:1/d") == "postgresql://u:p@h:1/d"
    assert sqlalchemy_url("postgresql://u:p@h:1/d") == "postgresql+psycopg2://u:p@h:1/d"
    assert with_database("postgresql://u:p@h:1/d", "other") == "postgresql://u:p@h:1/other"


def test_libpq_url_refuses_other_backends_without_leaking_the_password() -> None:
    with pytest.raises(ValueError) as excinfo:
        libpq_url("mysql://root:topsecret@h/d")
    assert "topsecret" not in str(excinfo.value)
