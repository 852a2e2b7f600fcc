"""A Django project's SQLite database, moved into the schema Django's own ``migrate`` makes on
Postgres, judged by reading every object of every model back through the Django ORM on both
sides; then one new object of every model on Postgres (every sequence past its rows)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django_project import write_project

pytestmark = pytest.mark.requires_pg


def _django(project: Path, database: dict[str, str], *args: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings", "PYTHONPATH": str(project),
           **database}
    for name in ("DB_URL", "SQLALCHEMY_DATABASE_URL"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _pg_settings(pg_url: str) -> dict[str, str]:
    url = urlsplit(pg_url)
    return {"TEST_PG_NAME": url.path.lstrip("/"), "TEST_PG_USER": url.username or "",
            "TEST_PG_HOST": url.hostname or "", "TEST_PG_PORT": str(url.port or 5432),
            "TEST_PG_PASSWORD": url.password or ""}


def test_a_django_projects_database_moves_exactly(tmp_path, pg_url, move, pg_exec):
    project = write_project(tmp_path / "project")
    sqlite = {"TEST_SQLITE_PATH": str(tmp_path / "django.sqlite3")}
    postgres = _pg_settings(pg_url)
    _django(project, sqlite, "-m", "django", "makemigrations", "inventory")
    _django(project, sqlite, "-m", "django", "migrate")
    _django(project, sqlite, "driver.py", "create")
    _django(project, postgres, "-m", "django", "migrate")  # Django makes the Postgres schema
    assert pg_exec("SELECT count(*) FROM django_content_type")[0][0] > 0  # rows before the run

    # pgloader cannot carry DurationField's interval: it must refuse before writing anything
    if not move(tmp_path / "django.sqlite3", refused="inventory_everything.took (interval)",
                table="inventory_everything"):
        return

    source = json.loads(_django(project, sqlite, "driver.py", "dump"))
    target = json.loads(_django(project, postgres, "driver.py", "dump"))
    assert sum(len(rows) for rows in source.values()) > 60
    assert all(source[label] for label in ("inventory.Everything", "auth.Permission",
                                           "sessions.Session", "admin.LogEntry"))
    for label in source:
        assert target[label] == source[label], label

    counts = json.loads(_django(project, postgres, "driver.py", "add"))
    assert counts["inventory.Everything"] == len(source["inventory.Everything"]) + 1
    assert counts["auth.User"] == len(source["auth.User"]) + 1
