"""Database URLs as operators see them: always with the password hidden."""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

REDACTED = "***"
_USERINFO_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&\s]+")


def redact_url(url: object) -> str:
    """The URL with its password replaced by ``***`` (also a ``password=`` query parameter)."""
    text = str(url)
    text = _USERINFO_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def redact_text(text: str) -> str:
    """Every URL inside a free text (an error message, a command line) with its password hidden."""
    return redact_url(text)


def libpq_url(url: str) -> str:
    """A SQLAlchemy or libpq URL as libpq understands it (``postgresql://…``, no driver suffix)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {redact_url(url)}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {redact_url(url)}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlalchemy_url(url: str) -> str:
    """A libpq URL as SQLAlchemy's psycopg2 driver URL (``postgresql+psycopg2://…``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)
