"""The booking API as a real uvicorn subprocess: one way to start it, wait for it and stop it.

Used by the runbook (``point-api``, ``flip``, ``dev``, ``rehearse``), the load benchmark and the
tests. The process runs in a session of its own (its process group id is its pid), so stopping
it stops uvicorn's supervisor and every worker. Its output goes to a log file whose last lines,
passwords redacted, are in the error when it does not come up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from foundation.database_urls import redact_text
from foundation.polling import NotYet, poll_until

APP = "app.main:app"
POLL_S = 0.2
LOG_TAIL_LINES = 15


class ApiStartFailed(RuntimeError):
    """The API exited while starting or never answered; the message carries its log tail."""


def uvicorn_argv(host: str, port: int, *, workers: int = 1,
                 log_level: str | None = None) -> list[str]:
    """The command line of the API on ``host:port`` with ``--workers N`` (no access log)."""
    return [sys.executable, "-m", "uvicorn", APP, "--host", host, "--port", str(port),
            "--workers", str(workers), "--no-access-log",
            *(["--log-level", log_level] if log_level else [])]


def start_uvicorn(argv: list[str], *, env: Mapping[str, str], log_path: Path,
                  cwd: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` (see :func:`uvicorn_argv`) in its own session, output appended to
    ``log_path``; ``env`` is the child's whole environment."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def log_tail(log_path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    """``\\nlast lines of LOG:\\n…`` (passwords redacted), or "" when there is no log."""
    if log_path is None or not log_path.is_file():
        return ""
    text = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return f"\nlast lines of {log_path}:\n" + redact_text("\n".join(text))


def wait_until_serving(base_url: str, timeout: float, *, path: str = "/readyz",
                       process: subprocess.Popen | None = None,
                       log_path: Path | None = None) -> None:
    """Poll ``GET base_url + path`` until it answers 200; stop early if ``process`` exited."""

    def answered() -> None:
        if process is not None and process.poll() is not None:
            raise ApiStartFailed(f"the API exited with code {process.returncode} while "
                                 "starting" + log_tail(log_path))
        try:
            answer = httpx.get(f"{base_url}{path}", timeout=2.0)
        except httpx.HTTPError as exc:
            raise NotYet(type(exc).__name__) from None
        if answer.status_code != 200:
            raise NotYet(f"{path} answered {answer.status_code}: {answer.text[:200]}")

    try:
        poll_until(answered, timeout=timeout, interval=POLL_S)
    except NotYet as last:
        raise ApiStartFailed(f"the API at {base_url} was not ready within {timeout:.0f} s "
                             f"({last})" + log_tail(log_path)) from None


def signal_group(pid: int, signum: int) -> None:
    """Send ``signum`` to the process group of a process started by :func:`start_uvicorn`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def stop_uvicorn(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the API's process group; SIGKILL whatever is left after ``grace`` seconds."""
    if process.poll() is not None:
        return
    signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
