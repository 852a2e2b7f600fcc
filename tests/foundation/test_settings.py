"""One settings object; a bad setting stops start-up with a message naming the variable."""

import pytest
from sqlalchemy.pool import QueuePool

from app.db import make_engine
from app.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DB_POOL_SIZE": "-1"}, "DB_POOL_SIZE"),
        ({"DB_MAX_OVERFLOW": "many"}, "DB_MAX_OVERFLOW"),
        ({"SQLALCHEMY_DATABASE_URL": "not a url"}, "SQLALCHEMY_DATABASE_URL"),
        ({"ENVIRONMENT": "production"}, "SECRET_KEY"),
    ],
)
def test_bad_setting_names_the_variable(monkeypatch, env: dict, variable: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_production_with_a_real_secret_is_accepted(monkeypatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-of-sufficient-length")
    assert load_settings().environment == "production"


def test_pool_settings_are_ignored_on_sqlite(tmp_path) -> None:
    settings = load_settings(sqlalchemy_database_url=f"sqlite:///{tmp_path / 'a.db'}",
                             db_pool_size=3, db_max_overflow=4, db_pool_recycle=60)
    engine = make_engine(settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert not isinstance(engine.pool, QueuePool) or engine.pool.size() != 3
    engine.dispose()
