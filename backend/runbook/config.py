"""The runbook's configuration, in one place.

Order of precedence (last wins): the defaults below, the ``runbook:`` section of ``invoke.yaml``
(or any Invoke config file), then environment variables. Task flags override single values for
one run. Nothing else in ``runbook`` reads ``os.environ`` for settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from runbook.errors import RunbookError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# field name -> environment variable that sets it
ENVIRONMENT_NAMES = {
    "target_url": "DB_URL",
    "sqlite_path": "SQLITE_PATH",
    "api_url": "API_URL",
    "api_env_file": "API_ENV_FILE",
    "api_workers": "API_WORKERS",
    "deploy_cmd": "DEPLOY_CMD",
    "cloud_sql_instance": "CLOUD_SQL_INSTANCE",
    "proxy_port": "PROXY_PORT",
    "google_credentials": "GOOGLE_APPLICATION_CREDENTIALS",
    "pool_size": "DB_POOL_SIZE",
    "max_overflow": "DB_MAX_OVERFLOW",
    "pool_recycle": "DB_POOL_RECYCLE",
    "budget_margin": "DB_BUDGET_MARGIN",
    "report_dir": "REPORT_DIR",
    "snapshot_dir": "SNAPSHOT_DIR",
    "run_dir": "RUNBOOK_RUN_DIR",
    "smoke_email": "SMOKE_EMAIL",
    "smoke_password": "SMOKE_PASSWORD",
    "max_p95_ms": "MONITOR_MAX_P95_MS",
    "max_error_rate": "MONITOR_MAX_ERROR_RATE",
    "ready_timeout": "API_READY_TIMEOUT",
    "freeze_timeout": "FREEZE_TIMEOUT",
}


@dataclass(frozen=True)
class RunbookConfig:
    """Everything the runbook tasks need to know about the deployment."""

    target_url: str | None = field(default=None, repr=False)  # may hold a password
    sqlite_path: Path = Path("booking.db")
    api_url: str = "http://127.0.0.1:8000"
    api_env_file: Path = Path("var/api.env")
    api_workers: int = 2
    deploy_cmd: str | None = None
    cloud_sql_instance: str | None = None
    proxy_port: int = 5432
    google_credentials: Path | None = None
    pool_size: int = 15
    max_overflow: int = 30
    pool_recycle: int = 1800
    budget_margin: int = 5
    report_dir: Path = Path("reports")
    snapshot_dir: Path = Path("var/snapshots")
    run_dir: Path = Path("var")
    smoke_email: str = "demo@example.com"
    smoke_password: str = field(default="demo-password", repr=False)
    max_p95_ms: float = 500.0
    max_error_rate: float = 0.01
    ready_timeout: float = 60.0
    freeze_timeout: float = 30.0  # how long freeze/unfreeze wait for the API to agree
    migrate_script: Path = Path("scripts/migrate_sqlite_to_pg.sh")
    alembic_ini: Path = Path("backend/alembic.ini")

    def with_overrides(self, **values: Any) -> RunbookConfig:
        """A copy with the given values replaced; ``None`` means "keep the configured one"."""
        given = {key: value for key, value in values.items() if value is not None}
        return _coerced(replace(self, **given))

    def path(self, value: Path) -> Path:
        """A configured path made absolute against the project root."""
        return value if value.is_absolute() else PROJECT_ROOT / value

    def require_target(self, override: str | None = None) -> str:
        """The target PostgreSQL URL (a flag's value first, else DB_URL) or a clear error."""
        url = override or self.target_url
        if not url:
            raise RunbookError("no target database: pass --pg URL or set DB_URL")
        return url

    @property
    def pool_limit_per_worker(self) -> int:
        return self.pool_size + self.max_overflow


_PATH_FIELDS_WITHOUT_DEFAULT = {"google_credentials"}


def _kind(name: str) -> type:
    """The type a setting is coerced to: its default's type (optional ones are strings/paths)."""
    default = getattr(RunbookConfig, name)
    if default is None:
        return Path if name in _PATH_FIELDS_WITHOUT_DEFAULT else str
    return type(default) if not isinstance(default, Path) else Path


def _coerced(config: RunbookConfig) -> RunbookConfig:
    values = {}
    for item in fields(config):
        value, kind = getattr(config, item.name), _kind(item.name)
        if value is None or isinstance(value, kind):
            values[item.name] = value
            continue
        try:
            values[item.name] = kind(value)
        except (TypeError, ValueError):
            env = ENVIRONMENT_NAMES.get(item.name, item.name)
            raise RunbookError(f"setting {env}={value!r} is not a valid {kind.__name__}") from None
    return RunbookConfig(**values)


def load_config(invoke_config: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] = os.environ) -> RunbookConfig:
    """Defaults, then ``invoke_config['runbook']``, then the environment variables."""
    values: dict[str, Any] = {}
    section = (invoke_config or {}).get("runbook") or {}
    known = {f.name for f in fields(RunbookConfig)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise RunbookError(f"unknown runbook setting(s) in invoke.yaml: {', '.join(unknown)}")
    values.update(section)
    for name, env in ENVIRONMENT_NAMES.items():
        if environ.get(env):
            values[name] = environ[env]
    return RunbookConfig().with_overrides(**values)


def config_from(ctx: Any) -> RunbookConfig:
    """The configuration for a task's context (its Invoke config plus the environment)."""
    raw = getattr(ctx, "config", None)
    section = raw.get("runbook", {}) if raw is not None else {}
    return load_config({"runbook": dict(section)})
