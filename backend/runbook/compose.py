"""The one place that builds ``docker compose`` commands and asks whether a Docker engine answers.

Every task that could use Docker goes through :func:`compose_command` and
:func:`require_engine`, so all of them say the same clear thing when no engine is reachable.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runbook.config import PROJECT_ROOT
from runbook.errors import RunbookError

COMPOSE_DIR = Path("compose")
STACKS = ("postgres", "pgloader", "cloud-sql-proxy")
ENGINE_PROBE_TIMEOUT_S = 10


@dataclass(frozen=True)
class EngineStatus:
    """Whether a Docker engine answers, and why not when it does not."""

    available: bool
    reason: str


def compose_file(stack: str) -> Path:
    """The compose file of a stack, relative to the project root (``compose/<stack>.yml``)."""
    if stack not in STACKS:
        raise RunbookError(f"unknown compose stack {stack!r}; known: {', '.join(STACKS)}")
    return COMPOSE_DIR / f"{stack}.yml"


def load_stack(stack: str) -> dict[str, Any]:
    """The parsed compose file of a stack (PyYAML), for checks and for the service names."""
    with open(PROJECT_ROOT / compose_file(stack), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def compose_command(stack: str, *args: str) -> list[str]:
    """``docker compose -f compose/<stack>.yml <args…>``, run from the project root."""
    return ["docker", "compose", "-f", str(compose_file(stack)), *args]


def docker_engine_status() -> EngineStatus:
    """Ask the engine itself (``docker info``): a CLI without a daemon does not count."""
    if shutil.which("docker") is None:
        return EngineStatus(False, "the docker CLI is not installed")
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=ENGINE_PROBE_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        return EngineStatus(False, f"`docker info` gave no answer in {ENGINE_PROBE_TIMEOUT_S} s")
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no engine answers"])[-1]
        return EngineStatus(False, f"`docker info` failed: {detail}")
    return EngineStatus(True, f"Docker engine {done.stdout.strip()}")


def require_engine(purpose: str, instead: str) -> None:
    """Stop with a message naming what needed Docker and what to do instead when none answers."""
    status = docker_engine_status()
    if not status.available:
        raise RunbookError(f"{purpose} needs a Docker engine, but none answers "
                           f"({status.reason}). Instead: {instead}")
