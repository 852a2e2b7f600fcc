"""One confirmation prompt: the runbook's tasks and the migration CLI accept the same answers."""

from __future__ import annotations

import io

import pytest

from runbook.errors import RunbookError
from runbook.shell import Shell
from sqlite_to_pg.cli import CliError, confirm_truncation


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _answer(monkeypatch, text: str) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or text)
    return asked


@pytest.mark.parametrize("answer, proceeds", [
    ("y", True), ("YES", True), (" yes ", True), ("", False), ("n", False), ("sure", False)])
def test_the_runbook_and_the_migration_cli_accept_the_same_answers(monkeypatch, answer, proceeds):
    asked = _answer(monkeypatch, answer)
    assert Shell().confirm("drop postgresql://app:hunter2@db/app?") is proceeds
    if proceeds:
        confirm_truncation({"rooms": True}, False, "db")
    else:
        with pytest.raises(CliError, match="not confirmed"):
            confirm_truncation({"rooms": True}, False, "db")
    assert all(prompt.endswith("[y/N] ") and "hunter2" not in prompt for prompt in asked)


def test_without_a_terminal_both_refuse_and_say_to_pass_yes(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())
    with pytest.raises(RunbookError, match="re-run with --yes"):
        Shell().confirm("drop it?")
    with pytest.raises(CliError, match="re-run with --yes"):
        confirm_truncation({"rooms": True}, False, "db")
