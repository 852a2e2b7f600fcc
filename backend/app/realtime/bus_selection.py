"""Which bus an engine gets: LISTEN/NOTIFY on PostgreSQL, the in-process bus elsewhere."""

from __future__ import annotations

from sqlalchemy import Engine

from app.realtime.bus import Bus, InProcessBus
from app.realtime.pg_bus import PostgresBus


def bus_for(engine: Engine) -> Bus:
    """LISTEN/NOTIFY for PostgreSQL engines, the in-process bus otherwise."""
    if engine.dialect.name == "postgresql":
        return PostgresBus(engine)
    return InProcessBus()
