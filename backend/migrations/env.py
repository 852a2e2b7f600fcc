"""Alembic environment: the URL is DB_URL, else SQLALCHEMY_DATABASE_URL, else alembic.ini."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

from app.models import Base

config = context.config
target_metadata = Base.metadata


def resolve_url(ini_url: str | None, environ: os._Environ | dict = os.environ) -> str | None:
    """The URL Alembic migrates: DB_URL, else SQLALCHEMY_DATABASE_URL, else alembic.ini's."""
    return environ.get("DB_URL") or environ.get("SQLALCHEMY_DATABASE_URL") or ini_url


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=False,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=resolve_url(config.get_main_option("sqlalchemy.url")),
               literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = resolve_url(section.get("sqlalchemy.url"))
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _configure(connection=connectable)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
