"""The API's env file (``API_ENV_FILE``): what it says now, the settings for each backend, and
writing it (owner-only: it holds a password), with a redacted diff for the operator."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import dotenv

from foundation.database_urls import redact_url, sqlalchemy_url
from foundation.database_variables import API_DATABASE_URL
from runbook.config import RunbookConfig
from runbook.errors import RunbookError

URL_KEY = API_DATABASE_URL


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def postgres_env(url: str, cfg: RunbookConfig) -> dict[str, str]:
    """The API settings for PostgreSQL: the URL (psycopg2 driver) and the pool sizing."""
    return {URL_KEY: sqlalchemy_url(url), "DB_POOL_SIZE": str(cfg.pool_size),
            "DB_MAX_OVERFLOW": str(cfg.max_overflow), "DB_POOL_RECYCLE": str(cfg.pool_recycle)}


def sqlite_env(path: Path) -> dict[str, str]:
    """The API settings for a SQLite file (pool settings stay; SQLite ignores them)."""
    return {URL_KEY: sqlite_url(path)}


def current_env(cfg: RunbookConfig) -> dict[str, str]:
    """The API's env file as it is now."""
    return read_env_file(cfg.path(cfg.api_env_file))


def current_database_url(cfg: RunbookConfig) -> str:
    """The database the API uses now: its env file's URL, else the configured SQLite file."""
    return current_env(cfg).get(URL_KEY) or sqlite_url(cfg.path(cfg.sqlite_path))


def env_diff(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """``-``/``+`` lines for every changed key, passwords redacted."""
    lines = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is not None:
            lines.append(f"- {key}={redact_url(before)}")
        if after is not None:
            lines.append(f"+ {key}={redact_url(after)}")
    return lines


def read_env_file(path: Path) -> dict[str, str]:
    """The file's ``KEY=VALUE`` settings (python-dotenv syntax); an absent file is empty.

    A line that names a key without a value is refused rather than dropped.
    """
    if not path.is_file():
        return {}
    values = dotenv.dotenv_values(path, interpolate=False)
    missing = [key for key, value in values.items() if value is None]
    if missing:
        raise RunbookError(f"{path}: expected KEY=VALUE, found only {', '.join(missing)}")
    return {key: value for key, value in values.items() if value is not None}


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``KEY=VALUE`` lines atomically, readable by the owner only (it holds a password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# written by the runbook (invoke point-api / flip / rollback)\n")
    for key, value in values.items():  # each set_key keeps the file's 0600 mode
        dotenv.set_key(partial, key, value, quote_mode="never")
    os.replace(partial, path)
