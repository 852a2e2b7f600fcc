"""The databases a scenario runs on: a fresh one per scenario, schema by Alembic, then seeded."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg2
from alembic.util import CommandError
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.alembic_upgrade import upgrade_to_head
from app.models import ChatThread, Room, ThreadMember, User
from app.security import hash_password
from foundation.database_urls import libpq_url, redact_text, sqlalchemy_url, with_database
from foundation.throwaway_postgres import create_database, drop_database, provide_server


class SchemaFailed(RuntimeError):
    """``alembic upgrade head`` failed; the message says why (passwords hidden)."""


@dataclass(frozen=True)
class Target:
    """One scenario's database: the API's SQLAlchemy URL, and for Postgres its name and server."""

    backend: str
    url: str
    name: str | None = None
    admin_url: str | None = None  # libpq URL of the server's maintenance database

    @property
    def libpq_url(self) -> str:
        return libpq_url(self.url)


@dataclass(frozen=True)
class SeededUser:
    id: int
    email: str


@dataclass(frozen=True)
class SeedData:
    """What the workload needs to know about the seeded rows."""

    users: list[SeededUser]
    room_ids: list[int]
    thread_id: int
    password: str


@contextlib.contextmanager
def postgres_server(pg_url: str | None) -> Iterator[str]:
    """The admin URL of the server to use: ``pg_url`` (``--pg``) if given, else
    ``provide_server()`` (PG_TEST_URL, a container or a temporary cluster; never DB_URL)."""
    if pg_url:
        yield libpq_url(pg_url, source="--pg")
        return
    with provide_server() as server:
        yield server.url


@contextlib.contextmanager
def fresh_database(backend: str, workdir: Path, admin_url: str | None) -> Iterator[Target]:
    """A new, empty database with the schema applied; a Postgres one is dropped afterwards."""
    if backend == "sqlite":
        target = Target("sqlite", f"sqlite:///{workdir / 'bench.sqlite'}")
        upgrade_bench_schema(target.url)
        yield target
        return
    if admin_url is None:
        raise ValueError("a PostgreSQL scenario needs a server")
    name = f"loadbench_{uuid.uuid4().hex[:10]}"
    create_database(admin_url, name=name)
    try:
        target = Target("postgresql", sqlalchemy_url(with_database(admin_url, name)), name,
                        admin_url)
        upgrade_bench_schema(target.url)
        yield target
    finally:
        drop_database(admin_url, name)


def upgrade_bench_schema(url: str) -> None:
    """``alembic upgrade head`` on ``url`` (the project's one Alembic call); SchemaFailed if not."""
    try:
        upgrade_to_head(sqlalchemy_url(url))  # a libpq URL becomes the psycopg2 driver's
    except (SQLAlchemyError, CommandError) as exc:
        first_line = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise SchemaFailed(f"alembic upgrade head failed: {redact_text(first_line)}") from None


def vacuum_analyze(target: Target) -> None:
    """``VACUUM ANALYZE`` a seeded PostgreSQL database, so that planner statistics are fresh and
    autovacuum has nothing left to do (its transactions would blur the transaction counts)."""
    if target.backend != "postgresql":
        return
    with contextlib.closing(psycopg2.connect(target.libpq_url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")


def seed(url: str, *, users: int, rooms: int, password: str) -> SeedData:
    """Create ``users`` users (one shared password), ``rooms`` rooms and one thread for all."""
    password_hash = hash_password(password)  # hashed once: argon2 is slow on purpose
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            people = [User(email=f"loadbench{n:03d}@example.com", name=f"Load client {n}",
                           password_hash=password_hash) for n in range(users)]
            session.add_all(people)
            session.add_all(Room(name=f"Bench room {n}", capacity=4 + n,
                                 hourly_rate=Decimal("25.00"), features={"screen": n % 2 == 0})
                            for n in range(rooms))
            session.flush()
            thread = ChatThread(title="Load benchmark", created_by_id=people[0].id)
            session.add(thread)
            session.flush()
            session.add_all(ThreadMember(thread_id=thread.id, user_id=person.id)
                            for person in people)
            room_ids = [room_id for (room_id,) in session.query(Room.id).order_by(Room.id)]
            return SeedData([SeededUser(p.id, p.email) for p in people], room_ids, thread.id,
                            password)
    finally:
        engine.dispose()
