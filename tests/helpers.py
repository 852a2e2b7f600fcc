"""Helpers shared by test packages: a real uvicorn subprocess and Alembic's schema on a test DB.

``run_api(env, port)`` starts ``python -m uvicorn app.main:app`` on 127.0.0.1 with the given
environment on top of this process's (``foundation.uvicorn_runner``), waits until
``GET /healthz`` answers and yields the base URL; on exit it stops the server (SIGTERM, then
SIGKILL). ``serve_in_thread(app)`` runs a real
uvicorn for an app object inside this process (so a test can watch the app's engine).
``upgrade_schema(url)`` is ``app.alembic_upgrade.upgrade_to_head``: ``alembic upgrade head``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from app.alembic_upgrade import upgrade_to_head
from foundation.polling import NotYet, poll_until
from foundation.throwaway_postgres import free_port
from foundation.uvicorn_runner import start_uvicorn, stop_uvicorn, uvicorn_argv, wait_until_serving

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "test-secret-key-for-the-booking-api-0123456789"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ServerFailed(RuntimeError):
    """The in-process uvicorn did not start."""


def api_env(db_url: str, upload_dir: Path | str, **extra: str) -> dict[str, str]:
    """The environment a test API process needs: database URL, secret, test mode, upload dir."""
    return {
        "SQLALCHEMY_DATABASE_URL": db_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "ENVIRONMENT": "test",
        "UPLOAD_DIR": str(upload_dir),
        **extra,
    }


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
        process = start_uvicorn(uvicorn_argv("127.0.0.1", port, workers=workers,
                                             log_level="warning"),
                                env={**os.environ, **env}, log_path=log_path, cwd=PROJECT_ROOT)
        try:
            wait_until_serving(base_url, STARTUP_TIMEOUT_S, path="/healthz", process=process,
                               log_path=log_path)
            yield base_url
        finally:
            stop_uvicorn(process, STOP_TIMEOUT_S)


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn in a thread of this process (lifespan included)."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()

    def started() -> None:
        if not (server.started or not thread.is_alive()):
            raise NotYet("starting")

    with contextlib.suppress(NotYet):
        poll_until(started, timeout=STARTUP_TIMEOUT_S, interval=0.05)
    if not server.started:
        server.should_exit = True
        raise ServerFailed(f"in-process uvicorn on port {port} did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)


def upgrade_schema(db_url: str) -> None:
    """``alembic upgrade head`` on ``db_url`` (SQLAlchemy URL), through Alembic's env.py."""
    upgrade_to_head(db_url)
