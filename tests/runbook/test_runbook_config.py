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


def test_empty_variables_count_as_unset_and_dev_settings_are_read():
    cfg = load_config({"runbook": {"dev_database": "mine"}},
                      {"DB_URL": "", "API_WORKERS": "", "PG_TEST_URL": "postgresql://p@h/postgres"})
    assert cfg.target_url is None and cfg.api_workers == 2
    assert cfg.dev_database == "mine" and cfg.sandbox_server_url == "postgresql://p@h/postgres"
    assert load_config({}, {"DEV_DATABASE": "other"}).dev_database == "other"


def test_a_bad_invoke_yaml_value_is_named():
    with pytest.raises(RunbookError, match="API_WORKERS='two' is not a valid int"):
        load_config({"runbook": {"api_workers": "two"}}, {})


def test_a_malformed_target_names_its_source_and_never_the_password():
    cfg = load_config({}, {"DB_URL": "postgresql://app:Kq4z@Wm8v@h/db"})
    with pytest.raises(RunbookError) as from_env:
        cfg.require_target()
    with pytest.raises(RunbookError) as from_flag:
        cfg.require_target("postgresql://app:Kq4z/Wm8v@h/db")
    assert str(from_env.value).startswith("DB_URL cannot be read")
    assert str(from_flag.value).startswith("--pg cannot be read")
    for message in (str(from_env.value), str(from_flag.value)):
        assert "Kq4z" not in message and "Wm8v" not in message
