"""The one yes/no question every destructive step asks (runbook tasks and the migration CLI).

"y" or "yes" (any case) proceeds; anything else, an empty answer included, is a no. Without a
terminal there is no one to ask: :class:`NoTerminal` says to re-run with ``--yes``.
"""

from __future__ import annotations

import sys

from foundation.database_urls import redact_text

ANSWERS_THAT_PROCEED = ("y", "yes")


class NoTerminal(RuntimeError):
    """A confirmation was needed but stdin is not a terminal."""


def confirm(question: str) -> bool:
    """Ask ``question [y/N]`` on the terminal (passwords redacted); True only for y/yes."""
    shown = redact_text(question)
    if not sys.stdin.isatty():
        raise NoTerminal(f"{shown} — needs confirmation, but there is no terminal to ask on; "
                         "re-run with --yes to proceed without asking")
    return input(f"{shown} [y/N] ").strip().lower() in ANSWERS_THAT_PROCEED
