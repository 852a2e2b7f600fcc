"""Run the chosen scenarios: a fresh database and a fresh API per scenario, then the load."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from app.settings import Settings, load_settings
from benchmarks.load.config import PASSWORD, BenchConfig
from benchmarks.load.database import (
    SeedData,
    Target,
    fresh_database,
    postgres_server,
    seed,
    vacuum_analyze,
)
from benchmarks.load.probe import ConnectionSampler
from benchmarks.load.results import ScenarioResult, StormResult
from benchmarks.load.server import RunningServer, ServerSpec, running_server
from benchmarks.load.stats import summarize
from benchmarks.load.storm import run_storm
from benchmarks.load.workload import run_workload

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    """Progress lines go to stderr, so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Stage:
    """A scenario's running parts: its database, seeded rows, API and the API's settings."""

    target: Target
    seed: SeedData
    server: RunningServer
    settings: Settings


@contextlib.contextmanager
def staged_api(config: BenchConfig, backend: str, workers: int, workdir: Path,
               admin_url: str | None) -> Iterator[Stage]:
    """Fresh database, Alembic schema, seed, uvicorn with ``workers``, ready; torn down after."""
    workdir.mkdir(parents=True)
    with fresh_database(backend, workdir, admin_url) as target:
        seeded = seed(target.url, users=config.users_needed, rooms=config.rooms, password=PASSWORD)
        vacuum_analyze(target)
        secret_key = secrets.token_hex(32)
        spec = ServerSpec(database_url=target.url, workers=workers, secret_key=secret_key,
                          upload_dir=workdir / "uploads", log_path=workdir / "server.log",
                          pool_size=config.pool_size, max_overflow=config.max_overflow)
        settings = load_settings(secret_key=secret_key, sqlalchemy_database_url=target.url)
        with running_server(spec, config.ready_timeout_s) as server:
            yield Stage(target, seeded, server, settings)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process) so far."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def run_load(config: BenchConfig, scenario: str, stage: Stage, workers: int) -> ScenarioResult:
    """The mixed workload against a staged API, with the database and CPU watched meanwhile."""
    server_cpu, generator_cpu, machine_cpu = (stage.server.cpu_seconds(), time.process_time(),
                                              machine_busy_seconds())
    span = time.perf_counter()
    with ConnectionSampler(stage.target, config.sample_interval_s) as sampler:
        recorder, wall = asyncio.run(run_workload(config, stage.seed, stage.server.base_url,
                                                  stage.server.ws_url))
    span = time.perf_counter() - span
    server_cpu = stage.server.cpu_seconds() - server_cpu
    generator_cpu = time.process_time() - generator_cpu
    machine_cpu = machine_busy_seconds() - machine_cpu
    if sampler.failure:
        stderr_progress(f"    {sampler.failure}")
    requests = recorder.requests()
    echo = recorder.per_op().get("ws_message")
    return ScenarioResult(
        scenario=scenario, backend=stage.target.backend, workers=workers,
        clients=recorder.clients_running,
        wall_s=wall, requests=requests, requests_per_s=requests / wall if wall > 0 else 0.0,
        latency=recorder.http_latency(), errors=recorder.errors_by_kind(),
        conflicts=recorder.conflicts(), ws_sent=recorder.ws_sent,
        ws_delivered=len(recorder.deliveries), ws_expected=recorder.ws_expected_deliveries,
        ws_delivery=summarize(recorder.deliveries),
        ws_echo=echo.latency if echo else summarize([]),
        db_connections=sampler.connections(), db_busy=sampler.busy(),
        cpu_span_s=span, server_cpu_s=server_cpu, generator_cpu_s=generator_cpu,
        database_cpu_s=sampler.backend_cpu.seconds(), machine_cpu_s=machine_cpu,
        per_op=recorder.per_op(),
        error_samples=recorder.top_errors(),
    )


def run_scenarios(config: BenchConfig, progress: Progress = stderr_progress,
                  ) -> tuple[list[ScenarioResult], StormResult | None]:
    """Every scenario of ``config`` in order; one PostgreSQL server for all that need one."""
    needs_pg = any(config.backend_for(name) == "postgresql" for name in config.scenarios)
    results: list[ScenarioResult] = []
    storm: StormResult | None = None
    with contextlib.ExitStack() as stack:
        workroot = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loadbench-")))
        admin_url = stack.enter_context(postgres_server(config.pg_url)) if needs_pg else None
        for number, scenario in enumerate(config.scenarios, start=1):
            backend, workers = config.backend_for(scenario), config.workers_for(scenario)
            progress(f"[{number}/{len(config.scenarios)}] {scenario}: {backend}, {workers} "
                     f"worker(s): fresh database, schema, seed, start API")
            with staged_api(config, backend, workers, workroot / scenario, admin_url) as stage:
                if scenario == "storm":
                    progress(f"    storm: {config.storm_sockets} sockets over "
                             f"{config.storm_users} tokens (waits {config.stats_settle_s:.0f} s "
                             "between phases for PostgreSQL's statistics)")
                    storm = asyncio.run(run_storm(config, stage.seed, stage.settings,
                                                  stage.server.ws_url, stage.target, workers))
                    progress(f"    done: failures {storm.failures or 'none'}")
                    continue
                progress(f"    load: {config.clients} clients for {config.duration_s:.0f} s")
                result = run_load(config, scenario, stage, workers)
                results.append(result)
                progress(f"    done: {result.requests} requests, {result.requests_per_s:.1f}/s, "
                         f"{result.error_total} errors, {result.conflicts} conflicts")
                if result.error_total:
                    progress("    server log tail:\n" + stage.server.log_tail())
    return results, storm
