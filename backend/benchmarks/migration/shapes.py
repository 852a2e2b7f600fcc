"""The data shapes the benchmark runs on (``--shape``): how to build the source, make the target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.migration import data, json_shape
from foundation.database_urls import sqlalchemy_url


@dataclass(frozen=True)
class DataShape:
    """One kind of source file and the target schema it migrates into."""

    name: str
    description: str
    build_sqlite: Callable[..., int]  # (path, rows, *, log) -> rows written
    apply_target_schema: Callable[[str], None]  # (libpq URL of a fresh database) -> None


def _app_schema(url: str) -> None:
    data.apply_schema(sqlalchemy_url(url))


SHAPES = {shape.name: shape for shape in (
    DataShape("booking", "the app's own tables (Alembic): users 8%, rooms, bookings 82%, "
                         "chat threads, chat messages 9%; one small JSON column",
              data.build_sqlite, _app_schema),
    DataShape("json", "half booking-shaped, half chat_events: a hand-written table with text "
                      "bodies and a jsonb payload (issue #11's shape)",
              json_shape.build_sqlite, json_shape.apply_target_schema),
)}
