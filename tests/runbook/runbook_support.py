"""Helpers of the runbook tests: demo databases, the runbook's environment, running invoke."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from helpers import TEST_SECRET_KEY, upgrade_schema
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from foundation.throwaway_postgres import free_port
from runbook.config import PROJECT_ROOT, load_config

INVOKE_TIMEOUT_S = 240


def build_demo_sqlite(path: Path, rows: int = 300) -> Path:
    """The API's demo database (users demo@example.com / user1@example.com, rooms, bookings…),
    with the files behind its upload rows in ``path.parent / "uploads"``: the UPLOAD_DIR that
    ``runbook_environ(path.parent)`` gives the API."""
    from app.demo_data import build_demo_database

    build_demo_database(path, rows=rows, seed=7, upload_dir=path.parent / "uploads")
    return path


def seed_minimal_sqlite(path: Path) -> Path:
    """A small SQLite at Alembic head with the smoke user (admin), a second user and a room."""
    from decimal import Decimal

    from app.models import Room, User
    from app.security import hash_password

    url = f"sqlite:///{path}"
    upgrade_schema(url)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        session.add_all([
            User(email="demo@example.com", name="Demo", is_admin=True,
                 password_hash=hash_password("demo-password")),
            User(email="user1@example.com", name="User One",
                 password_hash=hash_password("password1")),
            Room(name="Room A", capacity=4, hourly_rate=Decimal("10.00")),
        ])
    engine.dispose()
    return path


def runbook_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for the runbook (tasks and library): everything under ``tmp_path``."""
    return {
        "API_URL": f"http://127.0.0.1:{free_port()}",
        "API_ENV_FILE": str(tmp_path / "api.env"),
        "RUNBOOK_RUN_DIR": str(tmp_path / "run"),
        "SNAPSHOT_DIR": str(tmp_path / "snapshots"),
        "REPORT_DIR": str(tmp_path / "reports"),
        "API_WORKERS": "2",
        "SECRET_KEY": TEST_SECRET_KEY,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        **extra,
    }


def config_for(environ: dict[str, str]):
    """The RunbookConfig a task would see with ``environ``."""
    return load_config({}, environ)


@contextlib.contextmanager
def api_running(environ: dict[str, str], database_env: dict[str, str],
                maintenance_cache_seconds: float = 0.5) -> Iterator[object]:
    """Write the API's env file (database settings + test secrets), start the API as the
    runbook does, yield the config; stop whichever API the pid file names afterwards."""
    from runbook import api_process
    from runbook.api_env_file import read_env_file, write_env_file

    cfg = config_for(environ)
    write_env_file(cfg.path(cfg.api_env_file), {
        **database_env, "SECRET_KEY": environ["SECRET_KEY"], "UPLOAD_DIR": environ["UPLOAD_DIR"],
        "MAINTENANCE_CACHE_SECONDS": str(maintenance_cache_seconds)})
    api_process.start_api(cfg, read_env_file(cfg.path(cfg.api_env_file)))
    try:
        yield cfg
    finally:
        api_process.stop_api(cfg)


def run_invoke(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess:
    """``invoke ARGS`` as an operator runs it, from the project root, output captured."""
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=PROJECT_ROOT,
                          env={**os.environ, **environ}, capture_output=True, text=True,
                          timeout=INVOKE_TIMEOUT_S, check=False)
