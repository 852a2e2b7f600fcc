"""One small real run of the benchmark (SQLite, real uvicorn, real WebSockets), and a bad setup.

The run's figures are checked for being produced and plausible, never for speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from foundation.throwaway_postgres import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_loadbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PG_URL", "PG_TEST_URL", "DB_URL")}
    return subprocess.run([sys.executable, "-m", "benchmarks.load", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_two_clients_for_two_seconds_on_sqlite_produce_plausible_figures(tmp_path):
    out = tmp_path / "figures.json"
    done = run_loadbench("--scenarios", "sqlite-1w", "--clients", "2", "--duration", "2",
                         "--json", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(out.read_text())["load"]
    assert result["scenario"] == "sqlite-1w" and result["workers"] == 1
    assert result["clients"] == 2  # both logged in and ran
    assert result["requests"] > 0
    assert result["requests_per_s"] > 0
    assert sum(result["errors"].values()) == 0, result["error_samples"]
    latency = result["latency"]
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert result["ws_sent"] > 0
    assert result["ws_delivered"] == result["ws_expected"] == 2 * result["ws_sent"]
    assert result["db_connections"]["max"] is None  # not sampled on SQLite
    assert result["server_cpu_s"] > 0
    assert "| sqlite-1w" in done.stdout


def test_an_unreachable_postgres_is_one_line_without_the_password(tmp_path):
    url = f"postgresql://bench:s3cret-pw@127.0.0.1:{free_port()}/postgres"
    done = run_loadbench("--scenarios", "pg-1w", "--pg", url, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
    assert "loadbench: PostgreSQL refused" in done.stderr
