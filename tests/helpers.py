"""Helpers shared by test packages: a real uvicorn subprocess and Alembic's schema on a test DB.

``run_api(env, port)`` starts ``python -m uvicorn app.main:app`` on 127.0.0.1 with the given
environment on top of this process's, waits until ``GET /healthz`` answers and yields the base
URL; on exit it stops the server (SIGTERM, then SIGKILL). ``serve_in_thread(app)`` runs a real
uvicorn for an app object inside this process (so a test can watch the app's engine).
``upgrade_schema(url)`` is ``app.alembic_upgrade.upgrade_to_head``: ``alembic upgrade head``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from app.alembic_upgrade import upgrade_to_head
from foundation.database_urls import redact_text
from foundation.throwaway_postgres import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "test-secret-key-for-the-booking-api-0123456789"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ServerFailed(RuntimeError):
    """The uvicorn subprocess exited or never answered /healthz; the message has its log tail."""


def api_env(db_url: str, upload_dir: Path | str, **extra: str) -> dict[str, str]:
    """The environment a test API process needs: database URL, secret, test mode, upload dir."""
    return {
        "SQLALCHEMY_DATABASE_URL": db_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "ENVIRONMENT": "test",
        "UPLOAD_DIR": str(upload_dir),
        **extra,
    }


def _log_tail(log_path: Path, lines: int = 30) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return redact_text("\n".join(text.splitlines()[-lines:]))


def _wait_for_health(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"uvicorn exited with {process.returncode}:\n{_log_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise ServerFailed(f"uvicorn did not answer /healthz in {STARTUP_TIMEOUT_S:.0f} s:\n"
                       f"{_log_tail(log_path)}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


@contextlib.contextmanager
def run_api(env: dict[str, str], port: int | None = None, *,
            workers: int = 1) -> Iterator[str]:
    """Run ``uvicorn app.main:app`` as a real subprocess; yield ``http://127.0.0.1:PORT``.

    ``env`` is laid over this process's environment (see ``api_env``). The server's output goes
    to a log file whose last lines (passwords redacted) are in the error if it fails to start.
    ``workers`` > 1 runs uvicorn's multi-process supervisor (``--workers N``).
    """
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="uvicorn-") as logdir:
        log_path = Path(logdir) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning",
                 *(["--workers", str(workers)] if workers > 1 else [])],
                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )
            try:
                _wait_for_health(process, base_url, log_path)
                yield base_url
            finally:
                _stop(process)


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn in a thread of this process (lifespan included)."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ServerFailed(f"in-process uvicorn on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)


def upgrade_schema(db_url: str) -> None:
    """``alembic upgrade head`` on ``db_url`` (SQLAlchemy URL), through Alembic's env.py."""
    upgrade_to_head(db_url)
