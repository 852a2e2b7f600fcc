"""Start the real API (``uvicorn app.main:app --workers N``) on 127.0.0.1, wait for it, stop it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.load.config import HOST
from foundation.database_variables import API_DATABASE_URL, NEVER_A_SANDBOX
from foundation.throwaway_postgres import free_port
from foundation.uvicorn_runner import (
    log_tail,
    start_uvicorn,
    stop_uvicorn,
    uvicorn_argv,
    wait_until_serving,
)

STOP_GRACE_S = 10.0
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class ServerSpec:
    """What to run: the database, the worker count and the API's environment."""

    database_url: str
    workers: int
    secret_key: str
    upload_dir: Path
    log_path: Path
    pool_size: int
    max_overflow: int

    def environment(self) -> dict[str, str]:
        """The API's environment: the process's own, plus the database, secret and pool."""
        env = {key: value for key, value in os.environ.items() if key not in NEVER_A_SANDBOX}
        env.update({
            API_DATABASE_URL: self.database_url,
            "SECRET_KEY": self.secret_key,
            "ENVIRONMENT": "test",
            "UPLOAD_DIR": str(self.upload_dir),
            "DB_POOL_SIZE": str(self.pool_size),
            "DB_MAX_OVERFLOW": str(self.max_overflow),
        })
        return env


class RunningServer:
    """A started uvicorn supervisor and its workers."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws"

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the supervisor and all its workers."""
        try:
            root = psutil.Process(self.process.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for proc in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def log_tail(self) -> str:
        """The last lines the server wrote, passwords hidden."""
        return log_tail(self.log_path, LOG_TAIL_LINES) or "(no server log)"

    def wait_ready(self, timeout: float) -> None:
        """Poll ``/readyz`` until it answers 200; ``ApiStartFailed`` (with the log tail) if the
        process dies or time is up."""
        wait_until_serving(self.base_url, timeout, process=self.process,
                           log_path=self.log_path)

    def stop(self) -> None:
        """SIGTERM the supervisor's process group, then SIGKILL whatever is left after a grace."""
        stop_uvicorn(self.process, STOP_GRACE_S)


@contextlib.contextmanager
def running_server(spec: ServerSpec, ready_timeout: float) -> Iterator[RunningServer]:
    """Start the API for ``spec``, yield it once ``/readyz`` answers, always stop it afterwards."""
    port = free_port()
    spec.upload_dir.mkdir(parents=True, exist_ok=True)
    process = start_uvicorn(uvicorn_argv(HOST, port, workers=spec.workers, log_level="warning"),
                            env=spec.environment(), log_path=spec.log_path)
    server = RunningServer(process, port, spec.log_path)
    try:
        server.wait_ready(ready_timeout)
        yield server
    finally:
        server.stop()
