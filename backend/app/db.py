"""The engine factory and the request-scoped session dependency."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.errors import DATABASE_UNAVAILABLE_ERRORS
from app.settings import Settings, get_settings
from foundation.socket_deadline import socket_deadline

logger = logging.getLogger("app.db")


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(settings: Settings) -> Engine:
    """An engine for the settings' URL: pool sizing on servers, foreign keys on SQLite."""
    url = settings.sqlalchemy_database_url
    if settings.is_sqlite:
        # Sizing means nothing on SQLite, but waiting for a pooled connection is bounded on a
        # file database too (its QueuePool); in-memory databases use a pool without a wait.
        in_memory = make_url(url).database in (None, "", ":memory:")
        bounded_wait = {} if in_memory else {"pool_timeout": settings.db_pool_timeout}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **bounded_wait)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": max(1, round(settings.db_pool_timeout)),
            # A request blocked on a lock or a runaway query gives its connection back.
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
        },
    )
    _bound_pre_ping(engine, deadline=settings.db_pool_timeout)
    return engine


def _bound_pre_ping(engine: Engine, *, deadline: float) -> None:
    """Give ``pool_pre_ping`` a deadline: a pooled connection whose server does not answer is
    treated like a dead one (SQLAlchemy then replaces it and every older pooled connection)."""
    unbounded_ping = engine.dialect.do_ping

    def ping_within_deadline(dbapi_connection) -> bool:
        with socket_deadline(dbapi_connection, deadline) as expired:
            try:
                answered = unbounded_ping(dbapi_connection)
            finally:
                if expired():
                    logger.warning("a pooled database connection did not answer a ping "
                                   "within %.1f s; reconnecting", deadline)
        return answered and not expired()

    engine.dialect.do_ping = ping_within_deadline  # this engine's dialect instance only


class Database:
    """The process's engine and session factory, made lazily from the settings."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._settings: Settings | None = None

    def configure(self, settings: Settings) -> None:
        """Use these settings, not the environment's (app factory, tests); drops the engine."""
        self.reset()
        self._settings = settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self._settings or get_settings())
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    def session(self) -> Session:
        self.engine  # noqa: B018 - builds the factory on first use
        assert self._sessions is not None
        return self._sessions()

    def reset(self) -> None:
        """Dispose of the engine (tests and restarts); the next use builds a new one."""
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._sessions = None


database = Database()


def _close_request_session(session: Session) -> None:
    """Close; a connection that died after the request's work is discarded, never raised.

    FastAPI runs this after the response was sent: an error here could not become a 503, and
    uvicorn would drop the client's keep-alive connection instead.
    """
    try:
        session.close()
    except DATABASE_UNAVAILABLE_ERRORS as exc:
        logger.warning("database connection lost while closing a request's session (%s); "
                       "the pool discards it", type(exc).__name__)


def get_db() -> Iterator[Session]:
    """One session per request, closed after the response even if its connection died."""
    session = database.session()
    try:
        yield session
    finally:
        _close_request_session(session)


SessionDep = Annotated[Session, Depends(get_db)]
