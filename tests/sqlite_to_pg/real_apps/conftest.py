"""The step every real-application test shares: run the migration, and where the pgloader
engine cannot carry a column of the application's schema, check that it refused before writing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def move(engine: str, migrate, pg_exec) -> Callable[..., bool]:
    """``move(source, refused="table.column (type)", table='"t"')``: True when the migration
    loaded and verified; False when the engine is pgloader and it refused ``refused`` (the
    run failed, said so, and ``table`` is still empty)."""

    def run(source: Path, *, refused: str | None = None, table: str = "") -> bool:
        result = migrate(source, "--yes")
        if engine == "pgloader" and refused:
            assert result.returncode != 0
            assert refused in result.stderr, result.stderr
            assert pg_exec(f"SELECT count(*) FROM {table}") == [(0,)]
            return False
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verified" in result.stdout
        return True

    return run
