"""Fixtures of the API tests: a migrated database on the backend under test, an app around it,
real users, and their tokens. Every test gets a fresh database (dropped afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_client import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    OTHER_EMAIL,
    OTHER_PASSWORD,
    USER_EMAIL,
    USER_PASSWORD,
    bearer,
    login,
)
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from helpers import TEST_SECRET_KEY
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from app import security
from app.alembic_upgrade import upgrade_to_head
from app.crud.users import create_user
from app.db import database
from app.main import create_app
from app.models import User
from app.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2, with the smallest cost: the tests log in often and the cost is not tested."""
    monkeypatch.setattr(security, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """The backend's empty database with Alembic's schema at head."""
    upgrade_to_head(db_url)
    return db_url


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def settings(migrated_url: str, upload_dir: Path) -> Settings:
    return load_settings(sqlalchemy_database_url=migrated_url, upload_dir=upload_dir,
                         environment="test", secret_key=TEST_SECRET_KEY,
                         upload_max_bytes=64 * 1024, maintenance_cache_seconds=0)


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """An engine of the test's own, beside the app's (seeding, checking, flipping flags)."""
    engine = create_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app on the test database, lifespan included."""
    with TestClient(create_app(settings, db_wait_seconds=5)) as test_client:
        yield test_client
    database.reset()


@pytest.fixture
def make_user(engine: Engine) -> Callable[..., User]:
    def make(email: str, password: str, *, is_admin: bool = False) -> User:
        with Session(engine, expire_on_commit=False) as session:
            return create_user(session, email=email, name=email.split("@")[0],
                               password=password, is_admin=is_admin)
    return make


@pytest.fixture
def admin_headers(client: TestClient, make_user) -> dict[str, str]:
    make_user(ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    return bearer(login(client, ADMIN_EMAIL, ADMIN_PASSWORD))


@pytest.fixture
def user_headers(client: TestClient, make_user) -> dict[str, str]:
    make_user(USER_EMAIL, USER_PASSWORD)
    return bearer(login(client, USER_EMAIL, USER_PASSWORD))


@pytest.fixture
def other_headers(client: TestClient, make_user) -> dict[str, str]:
    make_user(OTHER_EMAIL, OTHER_PASSWORD)
    return bearer(login(client, OTHER_EMAIL, OTHER_PASSWORD))


@pytest.fixture
def room(client: TestClient, admin_headers: dict[str, str]) -> dict:
    """A room made through the API by an administrator."""
    response = client.post("/rooms", headers=admin_headers, json={
        "name": "Ada Lovelace", "capacity": 8, "hourly_rate": "42.50",
        "features": {"projector": True, "seats": ["sofa", "chairs"], "note": "café ☕"},
        "description": "Ground floor, by the window"})
    assert response.status_code == 201, response.text
    return response.json()
