"""The local API process: start uvicorn from the API's env file, wait for /readyz, stop it.

Used by ``point-api``/``flip`` (restart), ``dev`` (first start) and ``rehearse``. The process
runs in its own session; its pid is kept in ``<run_dir>/api.pid`` and its output in ``api.log``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from foundation.polling import NotYet, poll_until
from foundation.uvicorn_runner import (
    ApiStartFailed,
    signal_group,
    start_uvicorn,
    uvicorn_argv,
    wait_until_serving,
)
from runbook.config import PROJECT_ROOT, RunbookConfig
from runbook.errors import RunbookError

STOP_TIMEOUT_S = 20.0
POLL_S = 0.2


@dataclass(frozen=True)
class ApiProcess:
    """A uvicorn started by the runbook: where it listens and where its files are."""

    pid: int
    base_url: str
    log_path: Path


def pid_path(cfg: RunbookConfig) -> Path:
    return cfg.path(cfg.run_dir) / "api.pid"


def log_path(cfg: RunbookConfig) -> Path:
    return cfg.path(cfg.run_dir) / "api.log"


def running_pid(cfg: RunbookConfig) -> int | None:
    """The pid of the API this runbook started, if that process is still alive."""
    path = pid_path(cfg)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) and _is_our_api(pid) else None


def _is_our_api(pid: int) -> bool:
    """Guard against a stale pid file whose pid now belongs to another program."""
    try:
        return "app.main:app" in psutil.Process(pid).cmdline()
    except psutil.Error:
        return False


def start_api(cfg: RunbookConfig, env: Mapping[str, str], workers: int | None = None) -> ApiProcess:
    """Start uvicorn with ``env`` on top of this environment and wait until /readyz answers."""
    if running_pid(cfg) is not None:
        raise RunbookError(f"an API started by the runbook is already running (pid file "
                           f"{pid_path(cfg)}); stop it first with `invoke stop-api`")
    log = log_path(cfg)
    where = urlsplit(cfg.api_url)
    command = uvicorn_argv(where.hostname or "127.0.0.1", where.port or 80,
                           workers=workers or cfg.api_workers)
    child_env = {**os.environ, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_ROOT / "backend"), child_env.get("PYTHONPATH")]))
    process = start_uvicorn(command, env=child_env, log_path=log, cwd=PROJECT_ROOT)
    pid_path(cfg).write_text(str(process.pid))
    try:
        wait_until_serving(cfg.api_url, cfg.ready_timeout, process=process, log_path=log)
    except ApiStartFailed:
        stop_api(cfg)
        raise
    return ApiProcess(pid=process.pid, base_url=cfg.api_url, log_path=log)


def stop_api(cfg: RunbookConfig) -> bool:
    """Stop the API this runbook started (its whole process group); False if none ran."""
    pid = running_pid(cfg)
    pid_path(cfg).unlink(missing_ok=True)
    if pid is None:
        return False
    signal_group(pid, signal.SIGTERM)

    def exited() -> None:
        if _alive(pid):
            raise NotYet(f"pid {pid} still running")

    try:
        poll_until(exited, timeout=STOP_TIMEOUT_S, interval=POLL_S)
    except NotYet:
        signal_group(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    """Running (a zombie, i.e. exited but not yet reaped by its parent, counts as gone)."""
    try:
        finished, _status = os.waitpid(pid, os.WNOHANG)
        if finished:
            return False
    except ChildProcessError:
        pass  # not our child (started by an earlier invoke run): ask the kernel instead
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
