"""Every place that takes a URL accepts ``postgresql://`` and ``postgresql+psycopg2://`` alike
(SQLAlchemy 2.1's default driver for a bare ``postgresql://`` is psycopg 3, not installed), and a
malformed URL stops it naming the wrong part, never printing any part of the password: the
API's start-up (real uvicorn), ``alembic`` and the runbook's tasks.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from helpers import PROJECT_ROOT, TEST_SECRET_KEY, api_env, run_api, upgrade_schema

from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import free_port

PIECES = ("Kq4z", "Wm8v", "Pp2x")
MALFORMED = {  # password -> the words the error must hold
    "Kq4z@Wm8v:Pp2x": ["'@'", "%40"],
    "Kq4z:Wm8v@Pp2x": ["'@'", "%40"],
    "Kq4z/Wm8v": ["'/'", "%2F"],
    "Kq4z#Wm8v": ["'#'", "%23"],
    "Kq4z?Wm8v": ["'?'", "%3F"],
}


def _malformed(password: str) -> str:
    return f"postgresql://app:{password}@db.internal:5432/app"


def _assert_hidden(output: str) -> None:
    assert not [piece for piece in PIECES if piece in output], output


@pytest.mark.parametrize("password", MALFORMED)
def test_api_start_up_names_the_wrong_part_of_a_malformed_url(password, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SECRET_KEY": TEST_SECRET_KEY,
           "SQLALCHEMY_DATABASE_URL": _malformed(password)}
    done = subprocess.run([sys.executable, "-m", "uvicorn", "app.main:app", "--port",
                           str(free_port())], env=env, cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "SQLALCHEMY_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr
    for word in MALFORMED[password]:
        assert word in done.stderr, done.stderr
    _assert_hidden(done.stdout + done.stderr)


def _alembic(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alembic", "-c", "backend/alembic.ini", *args],
                          env={"PATH": "/usr/bin:/bin", **env}, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("variable", ["DB_URL", "SQLALCHEMY_DATABASE_URL"])
def test_alembic_names_the_variable_and_the_wrong_part(variable):
    done = _alembic("upgrade", "head", **{variable: _malformed("Kq4z@Wm8v:Pp2x")})
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"{variable} cannot be read" in output and "%40" in output, output
    _assert_hidden(output)


def test_the_runbook_names_the_wrong_part_of_a_malformed_target(tmp_path):
    sqlite = tmp_path / "live.db"
    sqlite.write_bytes(b"")
    for task in (["schema", "--yes"], ["migrate", "--sqlite", str(sqlite), "--yes"],
                 ["point-api", "--yes"]):
        done = subprocess.run(
            [sys.executable, "-m", "invoke", *task, "--pg", _malformed("Kq4z@Wm8v:Pp2x")],
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                 "API_ENV_FILE": str(tmp_path / "api.env"),
                 "RUNBOOK_RUN_DIR": str(tmp_path / "run")},
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
        output = done.stdout + done.stderr
        assert done.returncode != 0, output
        assert "cannot be read" in output and "%40" in output, (task, output)
        assert "Traceback" not in output
        _assert_hidden(output)


@pytest.mark.requires_pg
@pytest.mark.parametrize("form", ["postgresql", "postgresql+psycopg2"])
def test_alembic_and_the_api_take_either_postgres_spelling(form, pg_url, tmp_path):
    url = pg_url.replace("postgresql://", f"{form}://", 1)
    done = _alembic("upgrade", "head", DB_URL=url)
    assert done.returncode == 0, done.stdout + done.stderr
    current = _alembic("current", SQLALCHEMY_DATABASE_URL=url)
    assert "(head)" in current.stdout, current.stdout + current.stderr
    with run_api(api_env(url, tmp_path / "uploads")) as base_url:
        assert httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"{base_url}/rooms", timeout=10).status_code in (200, 401)


@pytest.mark.requires_pg
def test_the_runbook_and_in_process_alembic_take_a_plain_postgresql_url(pg_url):
    upgrade_schema(pg_url)  # the project's in-process Alembic call, given a libpq URL
    assert sqlalchemy_url(pg_url).startswith("postgresql+psycopg2://")
