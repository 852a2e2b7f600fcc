"""The runbook's configuration: defaults, invoke.yaml's ``runbook:`` section, the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.config import PROJECT_ROOT, load_config
from runbook.errors import RunbookError


def test_defaults_are_the_runbook_pool_settings():
    cfg = load_config({}, {})
    assert (cfg.pool_size, cfg.max_overflow, cfg.pool_recycle) == (15, 30, 1800)
    assert cfg.target_url is None and cfg.deploy_cmd is None
    assert cfg.path(cfg.report_dir) == PROJECT_ROOT / "reports"


def test_environment_overrides_invoke_yaml_which_overrides_defaults():
    cfg = load_config({"runbook": {"api_workers": 3, "pool_size": 10, "deploy_cmd": "deploy"}},
                      {"API_WORKERS": "4", "DB_URL": "postgresql://u:pw@h/db"})
    assert cfg.api_workers == 4  # environment wins
    assert cfg.pool_size == 10  # invoke.yaml wins over the default
    assert cfg.deploy_cmd == "deploy"
    assert cfg.target_url == "postgresql://u:pw@h/db"


def test_the_password_is_not_in_the_repr():
    cfg = load_config({}, {"DB_URL": "postgresql://u:hunter2@h/db", "SMOKE_PASSWORD": "pw9"})
    assert "hunter2" not in repr(cfg) and "pw9" not in repr(cfg)


def test_flags_override_and_none_keeps_the_configured_value():
    cfg = load_config({}, {"SQLITE_PATH": "/data/live.db"})
    assert cfg.with_overrides(sqlite_path=None).sqlite_path == Path("/data/live.db")
    assert cfg.with_overrides(api_workers="6").api_workers == 6


def test_bad_values_and_unknown_keys_are_named():
    with pytest.raises(RunbookError, match="API_WORKERS='many' is not a valid int"):
        load_config({}, {"API_WORKERS": "many"})
    with pytest.raises(RunbookError, match="unknown runbook setting.*pool_sise"):
        load_config({"runbook": {"pool_sise": 3}}, {})


def test_require_target_says_how_to_set_it():
    with pytest.raises(RunbookError, match="pass --pg URL or set DB_URL"):
        load_config({}, {}).require_target()
