"""The one settings object of the API, read from the environment once.

Every other module imports ``settings`` (or calls ``get_settings()``); nothing else reads
``os.environ`` for the API's configuration.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.database_urls import parse_url, sqlalchemy_url
from foundation.database_variables import DEFAULT_API_DATABASE_URL

DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789"


class SettingsError(RuntimeError):
    """A setting from the environment is invalid; the message names the variable."""


class Settings(BaseSettings):
    """Configuration of the booking API (environment variables, case-insensitive)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    environment: str = Field("development", description="development | test | staging | production")
    sqlalchemy_database_url: str = DEFAULT_API_DATABASE_URL
    db_pool_size: int = Field(5, ge=0)
    db_max_overflow: int = Field(10, ge=0)
    db_pool_recycle: int = Field(1800, ge=-1)
    db_pool_timeout: float = Field(5.0, gt=0)
    db_statement_timeout_ms: int = Field(30_000, ge=0)  # Postgres only; 0 = no limit
    secret_key: str = DEV_SECRET_KEY
    access_token_minutes: int = Field(15, gt=0)
    refresh_token_days: int = Field(14, gt=0)
    upload_dir: Path = Path("./uploads")
    upload_max_bytes: int = Field(10 * 1024 * 1024, gt=0)
    ws_token_cache_seconds: float = Field(30.0, ge=0)
    maintenance_cache_seconds: float = Field(1.0, ge=0)

    @field_validator("sqlalchemy_database_url")
    @classmethod
    def _sqlalchemy_form(cls, value: str) -> str:
        """``postgresql://`` and ``postgresql+psycopg2://`` alike open with psycopg2; a URL that
        cannot be read is refused naming its wrong part (never quoting its password)."""
        return sqlalchemy_url(value, source="the URL")

    @model_validator(mode="after")
    def _secret_outside_development(self) -> Settings:
        if self.environment not in ("development", "test") and self.secret_key == DEV_SECRET_KEY:
            raise ValueError(
                f"SECRET_KEY must be set outside development (ENVIRONMENT={self.environment})")
        if len(self.secret_key) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return parse_url(self.sqlalchemy_database_url).get_backend_name() == "sqlite"


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if p != "__root__"]
        name = loc[0].upper() if loc else "settings"
        parts.append(f"{name}: {item['msg']}")
    return "invalid setting: " + "; ".join(parts)


def load_settings(**overrides) -> Settings:
    """Build settings from the environment (plus overrides); raise SettingsError on bad input."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
