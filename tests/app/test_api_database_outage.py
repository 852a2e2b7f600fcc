"""The database going away and coming back, and start-up without one or with bad settings."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from api_client import USER_EMAIL, USER_PASSWORD, bearer, login
from fastapi.testclient import TestClient
from helpers import PROJECT_ROOT, TEST_SECRET_KEY
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.alembic_upgrade import upgrade_to_head
from app.crud.users import create_user
from app.db import database
from app.main import create_app
from app.settings import load_settings
from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import create_database, free_port


@pytest.mark.requires_pg
def test_outage_answers_503_and_the_same_process_recovers(throwaway_cluster, tmp_path):
    url = sqlalchemy_url(create_database(throwaway_cluster.url))
    upgrade_to_head(url)
    seed = create_engine(url)
    with Session(seed) as session:
        create_user(session, email=USER_EMAIL, name="alice", password=USER_PASSWORD)
    seed.dispose()
    settings = load_settings(sqlalchemy_database_url=url, upload_dir=tmp_path,
                             environment="test", secret_key=TEST_SECRET_KEY, db_pool_timeout=2)
    with TestClient(create_app(settings, db_wait_seconds=5)) as client:
        headers = bearer(login(client, USER_EMAIL, USER_PASSWORD))
        assert client.get("/auth/me", headers=headers).status_code == 200

        throwaway_cluster.stop("fast")
        down = client.get("/auth/me", headers=headers)
        assert down.status_code == 503
        assert down.headers["Retry-After"] == "5"
        assert down.json() == {"detail": "database unavailable"}
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["status"] == "unavailable"
        assert not_ready.headers["Retry-After"] == "5"
        assert client.get("/healthz").status_code == 200
        assert client.post("/auth/login", json={"email": USER_EMAIL,
                                                "password": USER_PASSWORD}).status_code == 503

        throwaway_cluster.start()
        assert client.get("/readyz").json() == {"status": "ready"}
        assert client.get("/auth/me", headers=headers).status_code == 200
    database.reset()


def test_start_up_without_a_database_waits_then_reports_unready(tmp_path, caplog):
    url = f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/missing"
    settings = load_settings(sqlalchemy_database_url=url, upload_dir=tmp_path,
                             environment="test", secret_key=TEST_SECRET_KEY, db_pool_timeout=1)
    with caplog.at_level(logging.INFO, logger="app"), \
            TestClient(create_app(settings, db_wait_seconds=0.5)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        assert client.get("/rooms").status_code == 503
    database.reset()
    attempts = [r.getMessage() for r in caplog.records if "not ready (attempt" in r.getMessage()]
    assert attempts, caplog.text
    assert any("did not answer SELECT 1 after" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("variable, value", [
    ("DB_POOL_SIZE", "-1"),
    ("SQLALCHEMY_DATABASE_URL", "not a url"),
    ("SQLALCHEMY_DATABASE_URL", "nosuchdriver://user:secret-pw@host/db"),
])
def test_bad_settings_stop_uvicorn_with_one_clear_line(variable, value, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), variable: value,
           "SECRET_KEY": TEST_SECRET_KEY}
    done = subprocess.run([sys.executable, "-m", "uvicorn", "app.main:app", "--port",
                           str(free_port())], env=env, cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert variable in done.stderr
    assert "Traceback" not in done.stderr
    assert "secret-pw" not in done.stderr
