"""The compose files, parsed with PyYAML, and the commands the tasks build from them."""

from __future__ import annotations

import re
import shutil

import pytest

from runbook.compose import (
    STACKS,
    compose_command,
    docker_engine_status,
    load_stack,
    require_engine,
)
from runbook.errors import RunbookError

SECRET_WORDS = re.compile(r"(?i)(password|secret|token|private_key)")


def _service(stack: str) -> dict:
    services = load_stack(stack)["services"]
    assert len(services) == 1, f"{stack}: expected one service, got {sorted(services)}"
    return next(iter(services.values()))


def _bind_mounts(service: dict) -> list[dict]:
    return [v for v in service.get("volumes", []) if isinstance(v, dict) and v["type"] == "bind"]


def test_postgres_has_a_pg_isready_healthcheck_and_local_only_port():
    service = _service("postgres")
    assert service["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(service["healthcheck"]["test"])
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])


def test_pgloader_is_one_shot_and_mounts_scripts_and_sqlite_read_only():
    service = _service("pgloader")
    assert service["restart"] == "no"
    assert service["command"][:2] == ["pgloader", "/scripts/migrate.load"]
    mounts = {m["target"]: m for m in _bind_mounts(service)}
    assert mounts["/scripts"]["source"] == "../scripts"
    assert mounts["/data/source.sqlite"]["source"].startswith("${SQLITE_FILE")
    assert all(m["read_only"] is True for m in mounts.values())
    assert service["environment"]["CUTOVER_SQLITE"] == "/data/source.sqlite"


def test_pgloader_environment_matches_the_load_file_placeholders():
    from runbook.config import PROJECT_ROOT

    load_file = (PROJECT_ROOT / "scripts" / "migrate.load").read_text()
    needed = set(re.findall(r"\{\{\{(CUTOVER_[A-Z_]+)\}\}\}", load_file))
    assert needed, "scripts/migrate.load has no {{{CUTOVER_…}}} placeholders"
    assert needed <= set(_service("pgloader")["environment"])


def test_cloud_sql_proxy_official_image_listens_on_all_addresses_with_health_check():
    service = _service("cloud-sql-proxy")
    assert service["image"].startswith("gcr.io/cloud-sql-connectors/cloud-sql-proxy:")
    assert "--address=0.0.0.0" in service["command"]
    assert "--health-check" in service["command"]
    assert "readiness" in " ".join(service["healthcheck"]["test"])
    (credentials,) = _bind_mounts(service)
    assert credentials["read_only"] is True
    assert credentials["source"].startswith("${GOOGLE_APPLICATION_CREDENTIALS")
    assert service["environment"]["GOOGLE_APPLICATION_CREDENTIALS"] == credentials["target"]


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_is_written_inline(stack):
    """Every secret-looking variable takes its value from the environment (${…})."""
    environment = _service(stack).get("environment", {})
    for name, value in environment.items():
        if SECRET_WORDS.search(name):
            assert str(value).startswith("${"), f"{stack}: {name} has an inline value"


@pytest.mark.parametrize("stack", STACKS)
def test_compose_command_names_the_file_under_compose(stack):
    command = compose_command(stack, "up", "-d", "--wait")
    assert command == ["docker", "compose", "-f", f"compose/{stack}.yml", "up", "-d", "--wait"]


def test_unknown_stack_is_refused_by_name():
    with pytest.raises(RunbookError, match="unknown compose stack 'mysql'"):
        compose_command("mysql", "up")


def test_without_an_engine_require_engine_says_what_to_do_instead():
    """On these machines no Docker engine answers: the message names the fallback."""
    status = docker_engine_status()
    if status.available:
        pytest.skip("a Docker engine answers here")
    with pytest.raises(RunbookError) as caught:
        require_engine("starting compose/postgres.yml", "set DB_URL to a local server")
    message = str(caught.value)
    assert "needs a Docker engine, but none answers" in message
    assert "Instead: set DB_URL to a local server" in message
    assert ("docker info" in message) or (shutil.which("docker") is None)
