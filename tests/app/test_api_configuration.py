"""Configuration reaching the engine, and Alembic: which URL it migrates, and no model drift."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from app.alembic_upgrade import ALEMBIC_INI
from app.db import database
from app.main import create_app
from app.settings import load_settings

POOL_ENV = {"DB_POOL_SIZE": "7", "DB_MAX_OVERFLOW": "3", "DB_POOL_RECYCLE": "900",
            "DB_POOL_TIMEOUT": "4", "DB_STATEMENT_TIMEOUT_MS": "4321"}


def _app_engine_from_environment(monkeypatch, db_url, tmp_path):
    for name, value in {**POOL_ENV, "SQLALCHEMY_DATABASE_URL": db_url,
                        "UPLOAD_DIR": str(tmp_path), "ENVIRONMENT": "test"}.items():
        monkeypatch.setenv(name, value)
    create_app(load_settings())
    return database.engine


@pytest.mark.requires_pg
def test_pool_settings_reach_the_postgres_engine(monkeypatch, db_url, tmp_path):
    engine = _app_engine_from_environment(monkeypatch, db_url, tmp_path)
    try:
        assert engine.pool.size() == 7
        assert engine.pool._max_overflow == 3
        assert engine.pool._recycle == 900
        assert engine.pool._pre_ping is True
        assert engine.pool._timeout == 4
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "4321ms"
    finally:
        database.reset()


def test_pool_settings_are_ignored_on_sqlite(monkeypatch, tmp_path):
    engine = _app_engine_from_environment(monkeypatch, f"sqlite:///{tmp_path / 'x.db'}",
                                          tmp_path)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        assert getattr(engine.pool, "_recycle", -1) != 900
        assert engine.pool._timeout == 4  # waiting for a connection is bounded here too
    finally:
        database.reset()


def _migrated(url: str) -> bool:
    engine = create_engine(url)
    try:
        return inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()


def test_alembic_url_precedence(monkeypatch, tmp_path):
    """DB_URL beats SQLALCHEMY_DATABASE_URL, which beats alembic.ini's sqlalchemy.url."""
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("db_url", "app_url", "ini_url")}
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", urls["ini_url"])
    monkeypatch.setenv("DB_URL", urls["db_url"])
    monkeypatch.setenv("SQLALCHEMY_DATABASE_URL", urls["app_url"])
    command.upgrade(config, "head")
    assert [_migrated(u) for u in urls.values()] == [True, False, False]
    monkeypatch.delenv("DB_URL")
    command.upgrade(config, "head")
    assert [_migrated(u) for u in urls.values()] == [True, True, False]
    monkeypatch.delenv("SQLALCHEMY_DATABASE_URL")
    command.upgrade(config, "head")
    assert [_migrated(u) for u in urls.values()] == [True, True, True]


def test_models_and_migrations_agree(monkeypatch, migrated_url):
    """``alembic check``: autogenerate finds nothing to add on this backend."""
    monkeypatch.setenv("DB_URL", migrated_url)
    command.check(Config(str(ALEMBIC_INI)))
