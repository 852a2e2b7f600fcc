"""Database URLs: one reader that says which part is wrong, the two forms the project hands on
(SQLAlchemy's, with the installed psycopg2 driver, and libpq's), and redaction.

No message made here holds any part of a password, however malformed the URL: a URL that cannot
be read is described by the part that is wrong (and how to fix it), never by its text.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

REDACTED = "***"
POSTGRES_SCHEMES = ("postgresql", "postgres")
SQLALCHEMY_POSTGRES_DRIVER = "postgresql+psycopg2"  # the driver constraints.txt installs
LIBPQ_SCHEME = "postgresql"

_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)\Z", re.DOTALL)
_URL_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>\S*)")
_HOST_NAME = re.compile(r"[A-Za-z0-9._\-%~]*\Z")
_IPV6_HOST = re.compile(r"\[[0-9A-Fa-f:.]+(?:%[\w.\-]+)?\]\Z")
# After ``host:``: a port, then the path, query, or the end of the URL in a text (a quote,
# bracket or comma around it, JSON's ``\n``…).
_PORT_TAIL = re.compile(r"\d*(?:[/?#\"',;)\]}>\\].*)?\Z", re.DOTALL)
_CLOSING_QUOTE = re.compile(r"[\"'][,;)\]}]*\Z")
# ``password=…`` in a query string or a libpq key=value DSN, ``PGPASSWORD=…`` in an echoed
# environment, ``"password": "…"`` in JSON; quoted values may hold spaces and escaped quotes.
_PASSWORD_ASSIGNMENT = re.compile(
    r"""(?ix)(?P<key>[a-z0-9_]*password\s*=\s*|"[a-z0-9_]*password"\s*:\s*)
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^&\s'"]*)""")
_ENCODINGS = {"@": "%40", "/": "%2F", "?": "%3F", "#": "%23"}


class DatabaseUrlError(ValueError):
    """A URL that cannot be used: the message names the wrong part, never the password."""


def _authority_problem(rest: str) -> str | None:
    """What is wrong with the ``user:password@host:port`` part after ``scheme://``, or None."""
    if rest.startswith("/"):
        return None  # no authority: sqlite:///path, postgresql:///db?host=/run/postgresql
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        hostpart = rest
    for char, code in _ENCODINGS.items():
        if char in userinfo:
            return (f"the user name or password (before the last '@') holds an unencoded "
                    f"'{char}': percent-encode it as {code}")
    if "#" in hostpart:
        return "it holds a '#' after the host; percent-encode it as %23"
    host = re.split(r"[/?]", hostpart, maxsplit=1)[0]
    if host.startswith("["):
        address, bracket, after = host.partition("]")
        if not (bracket and _IPV6_HOST.match(address + "]")) or after[:1] not in ("", ":"):
            return "the IPv6 host must be written [address] or [address]:port"
        port = after[1:]
    else:
        name, _, port = host.partition(":")
        if not _HOST_NAME.match(name):
            return ("the host holds characters a host name cannot have (a password with an "
                    "unencoded '@', '/', '?' or '#' can look like this)")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return ("the port (after the host's ':') is not a number from 1 to 65535; if a "
                "password is there, the user name and '@' before the host are missing")
    return None


def parse_url(url: object, source: str = "the database URL") -> URL:
    """The URL as SQLAlchemy's ``URL``, or DatabaseUrlError naming ``source`` and the wrong part."""
    if isinstance(url, URL):
        return url
    text = str(url).strip()
    match = _SCHEME.match(text)
    if match is None:
        raise DatabaseUrlError(f"{source} is not a URL: it must start with a scheme such as "
                               "postgresql:// or sqlite:///")
    problem = _authority_problem(match["rest"])
    if problem:
        raise DatabaseUrlError(f"{source} cannot be read: {problem}")
    try:
        return make_url(text)
    except (ArgumentError, ValueError, TypeError) as exc:  # its text may quote the password
        raise DatabaseUrlError(f"{source} cannot be read ({type(exc).__name__}); check its "
                               "scheme, host, port and percent-encoding") from None


def is_postgres(url: URL) -> bool:
    return url.drivername.partition("+")[0] in POSTGRES_SCHEMES


def sqlalchemy_url(url: object, source: str = "the database URL") -> str:
    """A URL as SQLAlchemy should open it: ``postgresql://``, ``postgres://`` and
    ``postgresql+psycopg2://`` alike become the installed psycopg2 driver's (SQLAlchemy 2.1's
    default for a bare ``postgresql://`` is psycopg 3); other URLs are returned as they are."""
    parsed = parse_url(url, source)
    backend, _, driver = parsed.drivername.partition("+")
    if backend in POSTGRES_SCHEMES and driver in ("", "psycopg2"):
        parsed = parsed.set(drivername=SQLALCHEMY_POSTGRES_DRIVER)
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: object, source: str = "the database URL") -> str:
    """A PostgreSQL URL as libpq (psycopg2, psql, pgloader) reads it: ``postgresql://…``."""
    parsed = parse_url(url, source)
    if not is_postgres(parsed):
        raise DatabaseUrlError(f"{source} is not a PostgreSQL URL (its scheme is "
                               f"{parsed.drivername.partition('+')[0]}://)")
    return parsed.set(drivername=LIBPQ_SCHEME).render_as_string(hide_password=False)


def with_database(url: object, database: str) -> str:
    """The same server URL (same form) pointing at another database."""
    return parse_url(url).set(database=database).render_as_string(hide_password=False)


def describe_database(url: object) -> str:
    """``database D on HOST:PORT (URL with the password hidden)``, for confirmations."""
    parsed = parse_url(url)
    where = f"{parsed.host or 'the local socket'}:{parsed.port or 5432}"
    return f"database {parsed.database} on {where} ({redact_url(url)})"


def _redact_authority(rest: str) -> str:
    """``rest`` (what follows ``scheme://``) with everything between the first ``:`` of the
    user information and the last ``@`` replaced: nothing of a password survives, even with
    an unencoded ``@``, ``:``, ``/``, ``?`` or ``#`` in it."""
    if rest.startswith("/"):
        return rest
    userinfo, at, hostpart = rest.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        return f"{user}:{REDACTED}@{hostpart}" if colon else rest
    if rest.startswith("["):
        return rest
    # No '@': ``host:5432/db`` has a port; in ``user:secret`` the '@host' part is missing.
    # A closing quote (of a JSON string, a repr) is kept: it quotes the URL, it is not in it.
    host, colon, tail = rest.partition(":")
    if not colon or _PORT_TAIL.match(tail):
        return rest
    closing = _CLOSING_QUOTE.search(tail)
    return f"{host}:{REDACTED}{closing[0] if closing else ''}"


def _redact_assignments(text: str) -> str:
    return _PASSWORD_ASSIGNMENT.sub(
        lambda m: m["key"] + (REDACTED if m["value"] else ""), text)


def redact_url(url: object) -> str:
    """The URL with its password replaced by ``***`` (also ``password=`` in its query, or in a
    libpq ``key=value`` string); safe for malformed URLs too."""
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=False)
    text = str(url)
    match = _SCHEME.match(text)
    if match:
        text = f"{match['scheme']}://{_redact_authority(match['rest'])}"
    elif "=" not in text and not any(char.isspace() for char in text.strip()):
        text = _redact_authority(text)  # a URL whose scheme is missing or misspelt
    return _redact_assignments(text)


def _redact_token(token: str) -> str:
    """One whitespace-free piece of a text: its URLs redacted, and ``user:secret@host`` too
    when the scheme is missing or misspelt (``postgresql//…``)."""
    if "://" in token:
        return _URL_IN_TEXT.sub(lambda m: m["scheme"] + _redact_authority(m["rest"]), token)
    userinfo, at, _ = token.rpartition("@")
    return _redact_authority(token) if at and ":" in userinfo else token


def redact_text(text: str) -> str:
    """Every URL inside a free text (an error message, a command line) with its password
    hidden, and every ``password=…`` assignment. A URL ends at whitespace here."""
    return _redact_assignments(re.sub(r"\S+", lambda m: _redact_token(m[0]), str(text)))
