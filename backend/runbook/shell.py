"""Running commands the runbook way: echoed (passwords redacted), skipped in a dry run.

Every command a task runs goes through :class:`Shell`, so the operator sees exactly what
happens, and ``--dry-run`` shows the same lines while changing nothing.

Why not Invoke's ``ctx.run(echo=True, dry=…)``: its echo prints the raw command string
(``run.echo_format`` only formats ``{command}``) and never the extra environment, so a secret
passed as ``env`` (``DB_URL`` for Alembic, ``PGPASSWORD`` for the script) would either be
invisible in the echo or have to move onto the command line, where ``ps`` shows it. The echo
here shows both, redacted; the question asked before a destructive step is
``foundation.confirmation``'s, the same one the migration CLI asks.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from foundation.confirmation import NoTerminal, confirm
from foundation.database_urls import redact_text
from runbook.errors import RunbookError

TAIL_LINES = 20


class CommandFailed(RunbookError):
    """A command exited non-zero; the message carries its (redacted) output tail."""

    def __init__(self, command: str, returncode: int, output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-TAIL_LINES:])
        super().__init__(f"command failed with exit code {returncode}: {command}"
                         + (f"\n{redact_text(tail)}" if tail else ""))
        self.returncode = returncode


@dataclass
class Shell:
    """Echoing command runner; ``dry_run`` prints commands without running them."""

    dry_run: bool = False
    assume_yes: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)

    def say(self, message: str) -> None:
        """Print one operator line (redacted)."""
        print(redact_text(message), file=self.out, flush=True)

    def describe(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
        """The command line as the operator reads it: extra env first, passwords hidden."""
        prefix = [f"{key}={value}" for key, value in (env or {}).items()]
        return redact_text(shlex.join([*prefix, *map(str, argv)]))

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            cwd: Path | None = None, capture: bool = False, check: bool = True,
            always: bool = False) -> subprocess.CompletedProcess | None:
        """Echo and run ``argv`` (``env`` adds to the environment); None in a dry run.

        ``always`` runs the command even in a dry run: only for commands that read state.
        ``capture`` returns the output instead of streaming it; a failure raises
        :class:`CommandFailed` unless ``check`` is false.
        """
        line = self.describe(argv, env)
        if self.dry_run and not always:
            self.say(f"[dry-run] would run: {line}")
            return None
        self.say(f"$ {line}")
        try:
            done = subprocess.run(
                [str(part) for part in argv], env={**os.environ, **(env or {})}, cwd=cwd,
                text=True, check=False,
                stdout=subprocess.PIPE if capture else None,
                stderr=subprocess.STDOUT if capture else None,
            )
        except FileNotFoundError:
            raise RunbookError(f"command not found: {argv[0]} (is it installed and on PATH?)") \
                from None
        if check and done.returncode != 0:
            raise CommandFailed(line, done.returncode, done.stdout or "")
        return done

    def run_shell(self, command: str, *, env: Mapping[str, str] | None = None
                  ) -> subprocess.CompletedProcess | None:
        """Echo and run an operator-configured shell command line (e.g. DEPLOY_CMD)."""
        return self.run(["sh", "-c", command], env=env)

    def confirm(self, question: str) -> bool:
        """Ask yes/no on the terminal; ``--yes`` and dry runs answer without asking."""
        if self.assume_yes or self.dry_run:
            return True
        try:
            return confirm(question)
        except NoTerminal as exc:
            raise RunbookError(str(exc)) from None

    def require_confirmation(self, question: str) -> None:
        """Confirm or stop: a "no" ends the task with nothing further done."""
        if not self.confirm(question):
            raise RunbookError("not confirmed; nothing was changed by this step")
