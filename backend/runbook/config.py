"""The runbook's configuration, in one place: a pydantic-settings object like the API's.

Order of precedence (last wins): the defaults below, the ``runbook:`` section of ``invoke.yaml``
(or any Invoke config file, by field name), then environment variables (the names below). Task
flags override single values for one run (``with_overrides``). Nothing else in ``runbook``
reads ``os.environ`` for settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, TypeAdapter, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    SettingsConfigDict,
)

from foundation.database_urls import DatabaseUrlError, libpq_url
from foundation.database_variables import DEFAULT_SQLITE_FILE, TARGET_URL, TEST_SERVER_URL
from runbook.errors import RunbookError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_DATABASE = "booking_dev"


def _env(name: str, default: Any, *, secret: bool = False) -> Any:
    """A setting read from the environment variable ``name`` (or set by its field name)."""
    return Field(default, validation_alias=AliasChoices(name), repr=not secret)


class RunbookConfig(BaseSettings):
    """Everything the runbook tasks need to know about the deployment."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=False,
                                      env_ignore_empty=True, validate_by_name=True)

    target_url: str | None = _env(TARGET_URL, None, secret=True)  # may hold a password
    sqlite_path: Path = _env("SQLITE_PATH", Path(DEFAULT_SQLITE_FILE))
    api_url: str = _env("API_URL", "http://127.0.0.1:8000")
    api_env_file: Path = _env("API_ENV_FILE", Path("var/api.env"))
    api_workers: int = _env("API_WORKERS", 2)
    deploy_cmd: str | None = _env("DEPLOY_CMD", None)
    cloud_sql_instance: str | None = _env("CLOUD_SQL_INSTANCE", None)
    proxy_port: int = _env("PROXY_PORT", 5432)
    google_credentials: Path | None = _env("GOOGLE_APPLICATION_CREDENTIALS", None)
    pool_size: int = _env("DB_POOL_SIZE", 15)
    max_overflow: int = _env("DB_MAX_OVERFLOW", 30)
    pool_recycle: int = _env("DB_POOL_RECYCLE", 1800)
    budget_margin: int = _env("DB_BUDGET_MARGIN", 5)
    report_dir: Path = _env("REPORT_DIR", Path("reports"))
    snapshot_dir: Path = _env("SNAPSHOT_DIR", Path("var/snapshots"))
    run_dir: Path = _env("RUNBOOK_RUN_DIR", Path("var"))
    smoke_email: str = _env("SMOKE_EMAIL", "demo@example.com")
    smoke_password: str = _env("SMOKE_PASSWORD", "demo-password", secret=True)
    max_p95_ms: float = _env("MONITOR_MAX_P95_MS", 500.0)
    max_error_rate: float = _env("MONITOR_MAX_ERROR_RATE", 0.01)
    ready_timeout: float = _env("API_READY_TIMEOUT", 60.0)
    freeze_timeout: float = _env("FREEZE_TIMEOUT", 30.0)  # wait for the API to agree
    dev_database: str = _env("DEV_DATABASE", DEV_DATABASE)  # dev-pg's own database
    sandbox_server_url: str | None = _env(TEST_SERVER_URL, None, secret=True)  # dev-pg's server
    migrate_script: Path = Path("scripts/migrate_sqlite_to_pg.sh")
    alembic_ini: Path = Path("backend/alembic.ini")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        """The environment beats invoke.yaml (passed as init values), which beats defaults."""
        return (env_settings, init_settings)

    def with_overrides(self, **values: Any) -> RunbookConfig:
        """A copy with the given values replaced; ``None`` means "keep the configured one"."""
        given = {name: _checked(name, value) for name, value in values.items()
                 if value is not None}
        return self.model_copy(update=given)

    def path(self, value: Path) -> Path:
        """A configured path made absolute against the project root."""
        return value if value.is_absolute() else PROJECT_ROOT / value

    def require_target(self, override: str | None = None) -> str:
        """The target PostgreSQL URL (a flag's value first, else DB_URL) or a clear error
        (for a malformed URL: which of the two is wrong, and which part of it)."""
        url = override or self.target_url
        if not url:
            raise RunbookError(f"no target database: pass --pg URL or set {TARGET_URL}")
        try:
            libpq_url(url, source="--pg" if override else TARGET_URL)
        except DatabaseUrlError as exc:
            raise RunbookError(str(exc)) from None
        return url

    @property
    def pool_limit_per_worker(self) -> int:
        return self.pool_size + self.max_overflow


def environment_name(name: str) -> str:
    """The environment variable of a field (the field's name when it has none)."""
    alias = RunbookConfig.model_fields[name].validation_alias
    return alias.choices[0] if isinstance(alias, AliasChoices) else name


@cache
def _adapter(name: str) -> TypeAdapter:
    return TypeAdapter(RunbookConfig.model_fields[name].annotation)


def _checked(name: str, value: Any) -> Any:
    if name not in RunbookConfig.model_fields:
        raise RunbookError(f"unknown runbook setting: {name}")
    try:
        return _adapter(name).validate_python(value)
    except ValidationError:
        raise _invalid(name, value) from None


def _invalid(name: str, value: Any) -> RunbookError:
    kind = getattr(RunbookConfig.model_fields[name].annotation, "__name__", "value")
    shown = "***" if not RunbookConfig.model_fields[name].repr else repr(value)
    return RunbookError(f"setting {environment_name(name)}={shown} is not a valid {kind}")


class _EnvironmentSource(EnvSettingsSource):
    """The environment variables of ``environ`` (``os.environ`` unless a test gives another)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in self._environ.items() if value != ""}


def _describe(error: ValidationError, values: Mapping[str, Any]) -> RunbookError:
    item = error.errors()[0]
    location = str(item["loc"][0]) if item.get("loc") else "settings"
    if item["type"] == "extra_forbidden":
        unknown = sorted(str(e["loc"][0]) for e in error.errors()
                         if e["type"] == "extra_forbidden")
        return RunbookError(f"unknown runbook setting(s) in invoke.yaml: {', '.join(unknown)}")
    name = next((field for field in RunbookConfig.model_fields
                 if location.lower() in (field, environment_name(field).lower())), None)
    if name is None:
        return RunbookError(f"invalid runbook setting {location}: {item['msg']}")
    return _invalid(name, item.get("input", values.get(name)))


def load_config(invoke_config: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] = os.environ) -> RunbookConfig:
    """Defaults, then ``invoke_config['runbook']``, then the environment variables."""
    section = dict((invoke_config or {}).get("runbook") or {})

    class _Loaded(RunbookConfig):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return (_EnvironmentSource(settings_cls, environ), init_settings)

    try:
        loaded = _Loaded(**section)
    except ValidationError as exc:
        raise _describe(exc, section) from None
    return RunbookConfig.model_construct(**loaded.model_dump())


def config_from(ctx: Any) -> RunbookConfig:
    """The configuration for a task's context (its Invoke config plus the environment)."""
    raw = getattr(ctx, "config", None)
    section = raw.get("runbook", {}) if raw is not None else {}
    return load_config({"runbook": dict(section)})
