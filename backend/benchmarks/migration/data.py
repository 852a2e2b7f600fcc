"""A booking-shaped SQLite database of any size, for the migration benchmark.

The schema is the app's own (Alembic on SQLite); the rows look like the API writes them:
SQLAlchemy datetime text, 0/1 booleans, a JSON column, numerics, blobs and NULLs, with
users, rooms and bookings dominating and a self-referencing chat table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.alembic_upgrade import upgrade_to_head

EPOCH = dt.datetime(2024, 1, 1, 8, 0, 0)
SEED = 20240101
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "c2FsdHNhbHRzYWx0" + "$" + "h" * 43
FEATURES = ["projector", "whiteboard", "video", "phone", "kitchen", "window"]


@dataclass(frozen=True)
class Shape:
    """How many rows each table gets for a total of about ``rows``."""

    users: int
    rooms: int
    bookings: int
    threads: int
    messages: int

    @classmethod
    def for_total(cls, rows: int) -> Shape:
        users = max(10, rows * 8 // 100)
        rooms = max(5, rows // 1000)
        threads = max(2, rows // 200)
        messages = max(10, rows * 9 // 100)
        bookings = max(10, rows - users - rooms - threads - messages)
        return cls(users, rooms, bookings, threads, messages)

    @property
    def total(self) -> int:
        return self.users + self.rooms + self.bookings + self.threads + self.messages


def apply_schema(url: str) -> None:
    """``alembic upgrade head`` on ``url`` (SQLite or PostgreSQL), in this process."""
    upgrade_to_head(url)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _users(shape: Shape, rng: random.Random) -> Iterator[tuple]:
    for user_id in range(1, shape.users + 1):
        avatar = rng.randbytes(64) if user_id % 50 == 0 else None
        yield (user_id, f"user{user_id}@example.org", f"User {user_id} O'Neil\tTab",
               PASSWORD_HASH, int(user_id % 97 == 0), avatar,
               _stamp(EPOCH + dt.timedelta(minutes=user_id)))


def _rooms(shape: Shape, rng: random.Random) -> Iterator[tuple]:
    for room_id in range(1, shape.rooms + 1):
        features = json.dumps({"tags": rng.sample(FEATURES, 2), "floor": room_id % 12})
        description = None if room_id % 3 else f"Room {room_id}\nwith a view, 100% \\ quiet"
        rate = f"{10 + room_id % 90}.{room_id % 100:02d}"
        yield (room_id, f"Room {room_id}", 2 + room_id % 30, rate, features, description)


def _bookings(shape: Shape, rng: random.Random) -> Iterator[tuple]:
    for booking_id in range(1, shape.bookings + 1):
        start = EPOCH + dt.timedelta(minutes=30 * booking_id + rng.randrange(30))
        end = start + dt.timedelta(minutes=30 * (1 + booking_id % 6))
        notes = None if booking_id % 4 else f"bring {booking_id % 9} chairs ☕"
        status = "cancelled" if booking_id % 11 == 0 else "active"
        yield (booking_id, 1 + booking_id % shape.rooms, 1 + rng.randrange(shape.users),
               f"Meeting #{booking_id}", _stamp(start), _stamp(end), status, notes,
               _stamp(start - dt.timedelta(days=2)), _stamp(start - dt.timedelta(days=1)))


def _threads(shape: Shape, rng: random.Random) -> Iterator[tuple]:
    for thread_id in range(1, shape.threads + 1):
        yield (thread_id, f"Thread {thread_id}", 1 + rng.randrange(shape.users),
               _stamp(EPOCH + dt.timedelta(hours=thread_id)))


def _messages(shape: Shape, rng: random.Random) -> Iterator[tuple]:
    for message_id in range(1, shape.messages + 1):
        reply_to = message_id - 1 - rng.randrange(min(message_id - 1, 20)) \
            if message_id > 1 and message_id % 5 == 0 else None
        yield (message_id, 1 + message_id % shape.threads, 1 + rng.randrange(shape.users),
               reply_to, f"message {message_id}: \"quoted\" \\N and emoji 🎉",
               _stamp(EPOCH + dt.timedelta(seconds=message_id)))


Generator = Callable[[Shape, random.Random], Iterator[tuple]]
# (table, field of Shape with its row count, columns, row generator), in foreign-key order
INSERTS: list[tuple[str, str, str, Generator]] = [
    ("users", "users", "id, email, name, password_hash, is_admin, avatar, created_at", _users),
    ("rooms", "rooms", "id, name, capacity, hourly_rate, features, description", _rooms),
    ("bookings", "bookings", "id, room_id, user_id, title, starts_at, ends_at, status, notes,"
                             " created_at, updated_at", _bookings),
    ("chat_threads", "threads", "id, title, created_by_id, created_at", _threads),
    ("chat_messages", "messages", "id, thread_id, sender_id, reply_to_id, body, created_at",
     _messages),
]


def insert_rows(conn: sqlite3.Connection, table: str, columns: str, rows: Iterator[tuple]) -> None:
    """``INSERT`` every row into ``table`` (``columns`` comma-separated) and commit."""
    marks = ", ".join("?" for _ in columns.split(","))
    conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    conn.commit()


@contextlib.contextmanager
def new_source(path: Path) -> Iterator[sqlite3.Connection]:
    """A new SQLite file at ``path`` with the app's schema, open for fast bulk inserts."""
    path.unlink(missing_ok=True)
    apply_schema(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        yield conn


def insert_booking_rows(conn: sqlite3.Connection, shape: Shape, rng: random.Random,
                        log: Callable[[str], None]) -> None:
    """Fill the app's tables with ``shape``'s row counts."""
    for table, count_field, columns, generate in INSERTS:
        insert_rows(conn, table, columns, generate(shape, rng))
        log(f"  {table}: {getattr(shape, count_field):,} rows")


def build_sqlite(path: Path, rows: int, *, log: Callable[[str], None] = print) -> int:
    """Create ``path`` with the app's schema and about ``rows`` rows; return the row count."""
    shape = Shape.for_total(rows)
    with new_source(path) as conn:
        insert_booking_rows(conn, shape, random.Random(SEED), log)
    return shape.total
