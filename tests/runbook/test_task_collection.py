"""The task namespace: every runbook step is a task, with a docstring and help for every flag."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from runbook.config import PROJECT_ROOT

RUNBOOK_STEPS = {
    # staging rehearsal
    "rehearse", "proxy", "schema", "migrate", "point-api", "smoke",
    # production cutover
    "cutover", "freeze", "flip", "unfreeze", "monitor",
    # rollback
    "snapshot", "rollback",
    # developer setup
    "dev", "dev-pg",
}


@pytest.fixture(scope="module")
def namespace():
    sys.path.insert(0, str(PROJECT_ROOT))
    try:
        import tasks
    finally:
        sys.path.remove(str(PROJECT_ROOT))
    return tasks.namespace


def test_invoke_list_shows_every_runbook_step():
    listed = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True).stdout
    names = {line.split()[0] for line in listed.splitlines()[2:] if line.startswith("  ")
             and not line.startswith("    ")}
    assert RUNBOOK_STEPS <= names, f"missing from invoke --list: {RUNBOOK_STEPS - names}"


def test_every_task_has_a_docstring_and_help_for_every_flag(namespace):
    for name in namespace.task_names:
        task = namespace[name]
        assert inspect.getdoc(task.body), f"{name} has no docstring"
        flags = list(inspect.signature(task.body).parameters)[1:]
        missing = [flag for flag in flags if not task.help.get(flag)]
        assert not missing, f"{name}: no help for {missing}"


def test_help_lines_carry_the_runbook_section(namespace):
    """`invoke --list` sorts by name; the [section N] tag lets it read in runbook order."""
    for name in RUNBOOK_STEPS:
        first_line = inspect.getdoc(namespace[name].body).splitlines()[0]
        assert first_line.startswith("["), f"{name}: {first_line!r}"


def test_invoke_help_prints_the_flags_of_a_task():
    shown = subprocess.run([sys.executable, "-m", "invoke", "--help", "cutover"],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    for flag in ("--dry-run", "--yes", "--pg", "--sqlite", "--monitor-seconds"):
        assert flag in shown
