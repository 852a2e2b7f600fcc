"""``monitor`` against a real API on PostgreSQL, and ``proxy`` without a proxy or Docker."""

from __future__ import annotations

import io
import json
import re
import shutil

import pytest
from helpers import upgrade_schema
from rich.console import Console
from runbook_support import api_running, config_for, run_invoke, runbook_environ

from foundation.database_urls import sqlalchemy_url
from runbook.api_env_file import postgres_env
from runbook.compose import docker_engine_status
from runbook.errors import RunbookError
from runbook.monitor import LiveTable, MonitorState
from runbook.proxy import credentials_kind


@pytest.fixture
def api_on_postgres(pg_url, tmp_path):
    upgrade_schema(sqlalchemy_url(pg_url))
    environ = runbook_environ(tmp_path, DB_URL=pg_url, DB_POOL_SIZE="2", DB_MAX_OVERFLOW="1",
                              API_WORKERS="1")
    with api_running(environ, postgres_env(pg_url, config_for(environ))):
        yield environ


@pytest.mark.requires_pg
def test_monitor_passes_within_thresholds_and_fails_past_them(api_on_postgres):
    ok = run_invoke("monitor", "--seconds", "2", "--interval", "1", environ=api_on_postgres)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = [line for line in ok.stdout.splitlines() if line.startswith("t=")]
    assert lines and "\x1b[" not in ok.stdout  # plain lines when not on a terminal
    assert "/3 (" in lines[-1]  # connections against the pool limit 1 × (2 + 1)

    strict = run_invoke("monitor", "--seconds", "1", "--max-p95-ms", "0.001",
                        environ=api_on_postgres)
    assert strict.returncode == 1
    assert "monitor thresholds crossed: p95 latency" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_live_table_redraws_in_place():
    state = MonitorState(pool_limit=10, latencies_ms=[1.0, 2.0, 30.0], probes=3, errors=1,
                         last_states={"active": 2, "idle": 3})
    terminal = io.StringIO()
    with LiveTable(Console(file=terminal, force_terminal=True, width=80)) as table:
        table.draw(state, 1.0)
        table.draw(state, 2.0)
    out = terminal.getvalue()
    first, second = out.index("t=  1.0 s"), out.index("t=  2.0 s")
    assert "\x1b[1A" in out[first:second]  # the second draw moves the cursor up over the first
    assert re.search(r"connections +5 / 10", out) and "  idle" in out
    assert re.search(r"errors +1 / 3 \(33\.3%\)", out)


@pytest.mark.parametrize(("payload", "kind"), [
    ({"type": "external_account", "audience": "//iam.googleapis.com/x"}, "external_account"),
    ({"type": "service_account", "private_key_id": "k"}, "service_account"),
])
def test_credentials_kind_tells_wif_from_a_key_file(tmp_path, payload, kind):
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(payload))
    assert credentials_kind(path) == kind
    assert credentials_kind(None) == "ambient"


def test_unreadable_credentials_are_a_clear_error(tmp_path):
    path = tmp_path / "creds.json"
    path.write_text("not json")
    with pytest.raises(RunbookError, match="not a readable JSON credentials file"):
        credentials_kind(path)


def test_proxy_without_binary_or_docker_says_what_to_install(tmp_path):
    if shutil.which("cloud-sql-proxy") or docker_engine_status().available:
        pytest.skip("a proxy binary or a Docker engine is available here")
    creds = tmp_path / "wif.json"
    creds.write_text(json.dumps({"type": "external_account"}))
    environ = runbook_environ(tmp_path, CLOUD_SQL_INSTANCE="proj:europe-west1:db",
                              GOOGLE_APPLICATION_CREDENTIALS=str(creds), PROXY_PORT="1")
    done = run_invoke("proxy", environ=environ)
    assert done.returncode == 1
    assert "credentials: Workload Identity Federation" in done.stdout
    assert "needs a Docker engine, but none answers" in done.stderr
    assert "install the proxy binary" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.requires_pg
def test_proxy_local_reuses_a_server_that_answers(pg_url, tmp_path):
    done = run_invoke("proxy", "--local", environ=runbook_environ(tmp_path, DB_URL=pg_url))
    assert done.returncode == 0, done.stderr
    assert "reusing the PostgreSQL that answers at postgresql://cutover_app@" in done.stdout
