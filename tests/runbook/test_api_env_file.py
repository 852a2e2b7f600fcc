"""The API's env file: written atomically and owner-only, read back with python-dotenv."""

from __future__ import annotations

import stat

import pytest

from runbook.api_env_file import read_env_file, write_env_file
from runbook.errors import RunbookError


def test_written_values_read_back_unchanged_and_the_file_is_owner_only(tmp_path):
    path = tmp_path / "var" / "api.env"
    values = {"SQLALCHEMY_DATABASE_URL": "postgresql+psycopg2://app:p#ss=w0rd@db:5432/app",
              "DB_POOL_SIZE": "15"}
    write_env_file(path, values)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_env_file(path) == values
    assert "DB_POOL_SIZE=15\n" in path.read_text()  # unquoted, as before
    assert not list(path.parent.glob("*.partial")) and not list(path.parent.glob(".tmp_*"))


def test_rewriting_drops_keys_that_are_no_longer_set(tmp_path):
    path = tmp_path / "api.env"
    write_env_file(path, {"A": "1", "B": "2"})
    write_env_file(path, {"A": "3"})
    assert read_env_file(path) == {"A": "3"}


def test_an_absent_file_is_empty_and_a_key_without_a_value_is_refused(tmp_path):
    assert read_env_file(tmp_path / "none.env") == {}
    broken = tmp_path / "broken.env"
    broken.write_text("# comment\nA=1\nJUST_A_NAME\n")
    with pytest.raises(RunbookError, match="expected KEY=VALUE, found only JUST_A_NAME"):
        read_env_file(broken)
