"""Alembic environment: the URL is DB_URL, else SQLALCHEMY_DATABASE_URL, else alembic.ini's
``sqlalchemy.url`` (which the file itself leaves unset), else the API's default SQLite file."""

from __future__ import annotations

import os
from collections.abc import Mapping

from alembic import context
from alembic.util import CommandError
from sqlalchemy import engine_from_config, pool

from app.models import Base
from foundation.database_urls import DatabaseUrlError, sqlalchemy_url
from foundation.database_variables import ALEMBIC_INI_OPTION, alembic_url

config = context.config
target_metadata = Base.metadata


def resolve_url(ini_url: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The URL Alembic migrates (see ``alembic_url``), as SQLAlchemy opens it: a plain
    ``postgresql://`` uses psycopg2. A malformed URL fails naming its variable and wrong part."""
    chosen = alembic_url(ini_url, environ)
    try:
        return sqlalchemy_url(chosen.url, source=chosen.source)
    except DatabaseUrlError as exc:
        raise CommandError(str(exc)) from None


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=False,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=resolve_url(config.get_main_option(ALEMBIC_INI_OPTION)),
               literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")  # given by app.alembic_upgrade
    if connectable is not None:
        _configure(connection=connectable)
        with context.begin_transaction():
            context.run_migrations()
        return
    section = config.get_section(config.config_ini_section, {})
    section[ALEMBIC_INI_OPTION] = resolve_url(section.get(ALEMBIC_INI_OPTION))
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
