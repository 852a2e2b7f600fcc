"""The benchmark's configuration in one place: every default, the workload mix, the scenarios."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # the only address any load is ever sent to
PASSWORD = "loadbench-password"  # every benchmark user's password (a throwaway database)

# The mixed workload: operation -> relative weight (per client, drawn at random each step).
WORKLOAD_MIX: dict[str, int] = {
    "login": 5,
    "create_booking": 30,
    "list_bookings": 20,
    "list_rooms": 10,
    "upload": 10,
    "ws_message": 25,
}


def parse_mix(text: str) -> tuple[tuple[str, int], ...]:
    """``op=weight,...`` over the default mix (unnamed operations keep their weight).

    Raises ValueError naming the bad part: an unknown operation, a negative or non-integer
    weight, or a mix whose weights are all zero.
    """
    mix = dict(WORKLOAD_MIX)
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in mix:
            raise ValueError(f"unknown operation {name!r} in the mix; known: {', '.join(mix)}")
        if not weight.isdigit():
            raise ValueError(f"weight of {name} must be a whole number >= 0, got {weight!r}")
        mix[name] = int(weight)
    if not any(mix.values()):
        raise ValueError("every weight of the mix is 0")
    return tuple(mix.items())


SCENARIOS = ("sqlite-1w", "sqlite-Nw", "pg-1w", "pg-Nw", "storm")
DEFAULT_SCENARIOS = ("sqlite-1w", "pg-1w", "pg-Nw", "storm")


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run's knobs (the CLI's flags map one-to-one onto these fields)."""

    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    clients: int = 16
    duration_s: float = 20.0
    max_requests_per_client: int = 5000
    mix: tuple[tuple[str, int], ...] = tuple(WORKLOAD_MIX.items())
    workers: int = 2
    pg_url: str | None = field(default=None, repr=False)  # admin URL; may hold a password
    rooms: int = 8
    booking_days: int = 30
    upload_bytes: tuple[int, int] = (512, 4096)
    request_timeout_s: float = 10.0
    ws_echo_timeout_s: float = 5.0
    storm_sockets: int = 500
    storm_users: int = 50
    storm_jitter_s: float = 2.0
    storm_handshake_timeout_s: float = 15.0
    pool_size: int = 15  # the runbook's point-api values
    max_overflow: int = 30
    sample_interval_s: float = 0.1
    ready_timeout_s: float = 30.0
    stats_settle_s: float = 11.0  # > Postgres' 10 s idle flush of per-backend statistics
    seed: int = 20240501
    json_path: Path | None = None

    @property
    def users_needed(self) -> int:
        """How many users to create: one per client, and the storm's token owners."""
        needed = self.clients
        if "storm" in self.scenarios:
            needed = max(needed, self.storm_users)
        return needed

    def workers_for(self, scenario: str) -> int:
        """The uvicorn worker count of a scenario (``-1w`` one, ``-Nw`` and the storm N)."""
        return 1 if scenario.endswith("-1w") else self.workers

    def backend_for(self, scenario: str) -> str:
        """``sqlite`` or ``postgresql`` (the storm runs on PostgreSQL)."""
        return "sqlite" if scenario.startswith("sqlite") else "postgresql"
