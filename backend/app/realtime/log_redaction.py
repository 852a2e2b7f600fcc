"""Keep access tokens out of the server log.

The socket takes its token in the query string (``/ws?token=…``) and uvicorn logs every
accepted socket with its full path. ``install_token_redaction()`` adds a filter to uvicorn's
loggers that replaces the value of any ``token=`` parameter with ``***``.
"""

from __future__ import annotations

import logging
import re

UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")
_TOKEN_PARAM = re.compile(r"((?:^|[?&])(?:access_)?token=)[^&\s\"']+")


def redact_tokens(text: str) -> str:
    """``text`` with every ``token=`` query value replaced by ``***``."""
    return _TOKEN_PARAM.sub(r"\1***", text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and string arguments before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


def install_token_redaction() -> None:
    """Add the filter to uvicorn's loggers (once per process)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
