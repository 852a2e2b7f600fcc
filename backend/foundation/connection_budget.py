"""The connection budget: will N API workers with this pool sizing fit in the server?

Each worker may open ``pool_size + max_overflow`` connections plus one listener connection;
migrations and monitoring need a margin on top. The server offers ``max_connections`` minus the
slots reserved for superusers (and, from PostgreSQL 16, ``reserved_connections``). The numbers
are read from the server itself, and a refusal shows the whole sum.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psycopg2

from foundation.database_urls import libpq_url, redact_url

LISTENER_CONNECTIONS_PER_WORKER = 1


class BudgetExceeded(RuntimeError):
    """The planned connections do not fit; the message carries the arithmetic."""


@dataclass(frozen=True)
class ServerLimits:
    """Connection limits as the server reports them (``SHOW …``)."""

    max_connections: int
    superuser_reserved: int
    reserved: int  # reserved_connections (PostgreSQL 16+); 0 where the setting does not exist

    @property
    def available(self) -> int:
        return self.max_connections - self.superuser_reserved - self.reserved


@dataclass(frozen=True)
class ConnectionPlan:
    """What the API deployment will ask of the server at most."""

    workers: int
    pool_size: int
    max_overflow: int
    margin: int

    @property
    def per_worker(self) -> int:
        return self.pool_size + self.max_overflow + LISTENER_CONNECTIONS_PER_WORKER

    @property
    def needed(self) -> int:
        return self.workers * self.per_worker + self.margin


@dataclass(frozen=True)
class BudgetCheck:
    """The outcome of a check: the plan, the server's limits and the arithmetic as text."""

    plan: ConnectionPlan
    limits: ServerLimits

    @property
    def fits(self) -> bool:
        return self.plan.needed <= self.limits.available

    def arithmetic(self) -> str:
        plan, limits = self.plan, self.limits
        need = (f"{plan.workers} workers × ({plan.pool_size} pool + {plan.max_overflow} overflow "
                f"+ {LISTENER_CONNECTIONS_PER_WORKER} listener) + {plan.margin} margin "
                f"= {plan.needed}")
        have = (f"max_connections {limits.max_connections} − superuser_reserved_connections "
                f"{limits.superuser_reserved} − reserved_connections {limits.reserved} "
                f"= {limits.available}")
        verdict = "fits" if self.fits else "does NOT fit"
        return f"needed: {need}; available: {have}; {verdict}"


def read_server_limits(url: str) -> ServerLimits:
    """``max_connections`` and the reserved slots, read from the server at ``url``."""
    with contextlib.closing(psycopg2.connect(libpq_url(url), connect_timeout=10)) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('max_connections', 'superuser_reserved_connections', 'reserved_connections')"
            )
            settings = {name: int(value) for name, value in cur.fetchall()}
    if "max_connections" not in settings:
        raise BudgetExceeded(f"could not read max_connections from {redact_url(url)}")
    return ServerLimits(
        max_connections=settings["max_connections"],
        superuser_reserved=settings.get("superuser_reserved_connections", 0),
        reserved=settings.get("reserved_connections", 0),
    )


def check_budget(url: str, plan: ConnectionPlan, *, force: bool = False) -> BudgetCheck:
    """Compare the plan with the server; raise BudgetExceeded unless it fits or ``force``."""
    check = BudgetCheck(plan=plan, limits=read_server_limits(url))
    if not check.fits and not force:
        raise BudgetExceeded(
            f"connection budget exceeded on {redact_url(url)}: {check.arithmetic()}. "
            "Use fewer workers (--workers), a smaller DB_POOL_SIZE/DB_MAX_OVERFLOW, raise "
            "max_connections on the server, or pass --force to proceed anyway."
        )
    return check
