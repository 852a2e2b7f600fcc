"""The reconnect storm: many sockets over a few users' tokens, all dropped, all reconnecting.

Phases: (1) every socket connects once, each after a random delay within the jitter;
(2) every socket is dropped at once (the TCP connection aborted, no close frame, as when a
load balancer or a network goes away) and reconnects after its own random delay. A handshake is
timed from the connect to the ``ready`` frame. Between phases the API stays idle long enough for
PostgreSQL to publish its statistics, so the database's own counters give the work per phase.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from app.security import create_access_token
from app.settings import Settings
from benchmarks.load.config import BenchConfig
from benchmarks.load.database import SeedData, Target
from benchmarks.load.probe import ConnectionSampler, counters_delta, read_counters
from benchmarks.load.results import StormResult
from benchmarks.load.stats import summarize
from benchmarks.load.wsclient import HandshakeFailed, open_socket

MAX_FAILURE_SAMPLES = 8


@dataclass
class PhaseRecord:
    """Handshake latencies and failures of one phase."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    details: Counter[str] = field(default_factory=Counter)


def storm_tokens(seed: SeedData, settings: Settings, users: int) -> list[str]:
    """One access token per storm user, signed with the API's own key (no login needed)."""
    if users > len(seed.users):
        raise ValueError(f"the storm needs {users} users, only {len(seed.users)} were seeded")
    return [create_access_token(user.id, settings) for user in seed.users[:users]]


async def _connect_one(ws_url: str, token: str, delay: float, timeout: float,
                       record: PhaseRecord) -> ClientConnection | None:
    await asyncio.sleep(delay)
    started = time.perf_counter()
    try:
        socket, _ready = await open_socket(ws_url, token, timeout)
    except HandshakeFailed as exc:
        record.failures[exc.kind] += 1
        record.details[str(exc)] += 1
        return None
    record.latencies.append(time.perf_counter() - started)
    return socket


async def connect_all(ws_url: str, tokens: list[str], sockets: int, config: BenchConfig,
                      rng: random.Random) -> tuple[list[ClientConnection | None], PhaseRecord]:
    """Open ``sockets`` sockets (socket i uses token i mod len(tokens)) with jittered starts."""
    record = PhaseRecord()
    opened = await asyncio.gather(*(
        _connect_one(ws_url, tokens[n % len(tokens)], rng.uniform(0, config.storm_jitter_s),
                     config.storm_handshake_timeout_s, record) for n in range(sockets)))
    return list(opened), record


def still_open(sockets: list[ClientConnection | None]) -> int:
    """How many sockets the server has not closed (one socket per user: newer ones replace)."""
    return sum(1 for socket in sockets if socket is not None and socket.state is State.OPEN)


def drop_all(sockets: list[ClientConnection | None]) -> None:
    """Abort every open socket's TCP connection (no close frame)."""
    for socket in sockets:
        if socket is not None:
            socket.transport.abort()


async def _settled_counters(target: Target, settle_s: float):
    if target.backend != "postgresql":
        return read_counters(target)
    await asyncio.sleep(settle_s)
    return await asyncio.to_thread(read_counters, target)


async def run_storm(config: BenchConfig, seed: SeedData, settings: Settings, ws_url: str,
                    target: Target, workers: int) -> StormResult:
    """Run both phases against a started API; the figures include the database's counters."""
    rng = random.Random(config.seed)
    tokens = storm_tokens(seed, settings, config.storm_users)
    sockets: list[ClientConnection | None] = []
    with ConnectionSampler(target, config.sample_interval_s) as sampler:
        try:
            before = await _settled_counters(target, config.stats_settle_s)
            sockets, first = await connect_all(ws_url, tokens, config.storm_sockets, config, rng)
            after_first = await _settled_counters(target, config.stats_settle_s)
            open_first = still_open(sockets)
            drop_all(sockets)
            sockets, again = await connect_all(ws_url, tokens, config.storm_sockets, config, rng)
            after_again = await _settled_counters(target, config.stats_settle_s)
            open_again = still_open(sockets)
        finally:
            drop_all(sockets)
    details = (first.details + again.details).most_common(MAX_FAILURE_SAMPLES)
    return StormResult(
        backend=target.backend, workers=workers, sockets=config.storm_sockets,
        distinct_tokens=len(tokens), jitter_s=config.storm_jitter_s,
        cache_ttl_s=settings.ws_token_cache_seconds,
        first_connect=summarize(first.latencies), reconnect=summarize(again.latencies),
        failures=dict(first.failures + again.failures),
        first_queries=counters_delta(before, after_first),
        reconnect_queries=counters_delta(after_first, after_again),
        db_connections=sampler.connections(), open_after=(open_first, open_again),
        failure_samples=details,
    )
