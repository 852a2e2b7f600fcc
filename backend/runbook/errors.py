"""Operator-facing errors and the task decorator that turns them into clean exits.

A runbook task never shows a traceback for something the operator can fix: every expected
failure is a :class:`RunbookError` (or one of the library errors listed below) and leaves the
task as ``Exit("what failed — what to do")``. Every message passes through ``redact_text``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from invoke import Exit, task

from foundation.database_urls import redact_text


class RunbookError(RuntimeError):
    """A runbook step failed in a way the operator can act on; the message says how."""


def _operator_errors() -> tuple[type[BaseException], ...]:
    """Exception types from the libraries the tasks drive that mean "operator, look here"."""
    import psycopg2
    from sqlalchemy.exc import SQLAlchemyError

    from app.settings import SettingsError
    from foundation.connection_budget import BudgetExceeded
    from foundation.throwaway_postgres import NoPostgresAvailable
    from foundation.uvicorn_runner import ApiStartFailed

    return (RunbookError, SettingsError, BudgetExceeded, NoPostgresAvailable, ApiStartFailed,
            OSError, TimeoutError, ValueError, psycopg2.Error, SQLAlchemyError)


def runbook_task(*, help: dict[str, str], **task_options: Any) -> Callable:
    """``@task`` that insists on help for every flag and exits cleanly on operator errors.

    ``help`` must name every parameter after the context; a missing entry is a programming
    error caught at import time, so ``invoke --help TASK`` always documents every flag.
    """

    def decorate(body: Callable) -> Any:
        if not (body.__doc__ or "").strip():
            raise TypeError(f"task {body.__name__} needs a docstring (it is its help)")
        flags = list(inspect.signature(body).parameters)[1:]
        missing = [name for name in flags if name not in help]
        if missing:
            raise TypeError(f"task {body.__name__}: no help for {', '.join(missing)}")

        @functools.wraps(body)
        def guarded(ctx, *args, **kwargs):
            try:
                return body(ctx, *args, **kwargs)
            except KeyboardInterrupt:
                raise Exit("interrupted by the operator; nothing further was done",
                           code=130) from None
            except _operator_errors() as exc:
                detail = str(exc) if isinstance(exc, RunbookError) else \
                    f"{type(exc).__name__}: {str(exc).strip()}"
                raise Exit(f"{body.__name__.replace('_', '-')} failed: {redact_text(detail)}",
                           code=1) from None

        return task(help=help, **task_options)(guarded)

    return decorate
