"""The local API process: start uvicorn from the API's env file, wait for /readyz, stop it.

Used by ``point-api``/``flip`` (restart), ``dev`` (first start) and ``rehearse``. The process
runs in its own session; its pid is kept in ``<run_dir>/api.pid`` and its output in ``api.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from foundation.database_urls import redact_text
from runbook.config import PROJECT_ROOT, RunbookConfig
from runbook.errors import RunbookError

STOP_TIMEOUT_S = 20.0
POLL_S = 0.2
LOG_TAIL_LINES = 15


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


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (comments and blanks skipped); an absent file is empty."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise RunbookError(f"{path} line {number}: expected KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def uvicorn_command(base_url: str, workers: int) -> list[str]:
    """The command line of the local API for a base URL like ``http://127.0.0.1:8000``."""
    parts = urlsplit(base_url)
    return [sys.executable, "-m", "uvicorn", "app.main:app",
            "--host", parts.hostname or "127.0.0.1", "--port", str(parts.port or 80),
            "--workers", str(workers), "--no-access-log"]


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


def wait_until_ready(base_url: str, timeout: float, process: subprocess.Popen | None = None,
                     log: Path | None = None) -> None:
    """Poll ``GET /readyz`` until it answers 200; stop early if the process died."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RunbookError(f"the API exited with code {process.returncode} while starting"
                               + _log_tail(log))
        try:
            answer = httpx.get(f"{base_url}/readyz", timeout=2.0)
            if answer.status_code == 200:
                return
            last = f"/readyz answered {answer.status_code}: {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}"
        time.sleep(POLL_S)
    raise RunbookError(f"the API at {base_url} was not ready within {timeout:.0f} s ({last})"
                       + _log_tail(log))


def _log_tail(log: Path | None) -> str:
    if log is None or not log.is_file():
        return ""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return f"\nlast lines of {log}:\n" + redact_text("\n".join(lines))


def start_api(cfg: RunbookConfig, env: Mapping[str, str], workers: int | None = None) -> ApiProcess:
    """Start uvicorn with ``env`` on top of this environment and wait until /readyz answers."""
    if running_pid(cfg) is not None:
        raise RunbookError(f"an API started by the runbook is already running (pid file "
                           f"{pid_path(cfg)}); stop it first with `invoke stop-api`")
    log = log_path(cfg)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = uvicorn_command(cfg.api_url, workers or cfg.api_workers)
    child_env = {**os.environ, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_ROOT / "backend"), child_env.get("PYTHONPATH")]))
    with open(log, "ab") as log_handle:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=child_env, stdout=log_handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    pid_path(cfg).write_text(str(process.pid))
    try:
        wait_until_ready(cfg.api_url, cfg.ready_timeout, process, log)
    except RunbookError:
        stop_api(cfg)
        raise
    return ApiProcess(pid=process.pid, base_url=cfg.api_url, log_path=log)


def stop_api(cfg: RunbookConfig) -> bool:
    """Stop the API this runbook started (its whole process group); False if none ran."""
    pid = running_pid(cfg)
    pid_path(cfg).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(POLL_S)
    if _alive(pid):
        _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)  # the API runs in a session of its own: pgid == pid
    except ProcessLookupError:
        pass


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
