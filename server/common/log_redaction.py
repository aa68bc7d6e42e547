"""Redaction of token-shaped text in log records: the backstop that keeps credentials out of logs.

API tokens never travel in URLs (websockets take them in a subprotocol, see
``server/realtime/auth.py``), so no log line of ours should hold one. This filter is the second
line: whatever a library logs (uvicorn's websocket lines, a traceback, Celery, Django), text
that looks like a credential is replaced by ``[redacted]`` before a handler writes it.

Token-shaped means:
- an API token: ``dawn_`` followed by hex (the knox ``TOKEN_PREFIX`` in settings);
- a value after a name ending in ``token``, ``key``, ``secret`` or ``password`` and ``=`` or ``:``
  (query strings, ``key=value`` pairs, JSON and Python dict reprs), or after ``token.``
  (the websocket subprotocol form);
- the credential after ``Token``/``Bearer``/``Basic`` (an ``Authorization`` header's value).

Invariant: ``redact(redact(s)) == redact(s)``, and text without such shapes is returned unchanged.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bdawn_[0-9A-Fa-f]{6,}[\w-]*"), "dawn_" + REDACTED),
    (re.compile(r"(?i)(\b[\w-]*(?:token|key|secret|password)[\"']?\s*[:=]\s*[\"']?)"
                r"([^\s\"'&,;})\[\]]{4,}+)(?!\[)"), r"\1" + REDACTED),
    (re.compile(r"(?i)(\btoken\.)([A-Za-z0-9_\-.~]{4,}+)(?!\[)"), r"\1" + REDACTED),
    (re.compile(r"(?i)(\b(?:Token|Bearer|Basic)\s+)([A-Za-z0-9_\-.~+/=]{16,}+)(?!\[)"), r"\1" + REDACTED),
)


def redact(text: str) -> str:
    """``text`` with every token-shaped substring replaced (see the module docstring)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(value):
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Redacts a record in place and lets it through.

    String arguments are redacted one by one, so formatters that read ``record.args`` (uvicorn's
    access formatter) keep their shape; when the formatted message still holds a token-shaped
    part (a non-string argument's ``str``), the record's message becomes the redacted text.
    Exception and stack text are formatted here and redacted too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.args, tuple) and record.args:
                record.args = tuple(_redact_arg(a) for a in record.args)
            elif isinstance(record.args, dict) and record.args:
                record.args = {k: _redact_arg(v) for k, v in record.args.items()}
            elif isinstance(record.msg, str):  # no arguments: the message is the text itself
                record.msg = redact(record.msg)
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        except Exception:  # noqa: BLE001 - a malformed record is the handler's to report, not ours
            pass
        return True


def install(loggers: Iterable[logging.Logger | str]) -> None:
    """Add :class:`RedactTokens` to every handler of ``loggers`` that lacks it (idempotent).

    For handlers configured outside Django's ``LOGGING`` (uvicorn's, Celery's)."""
    for logger in loggers:
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactTokens) for f in handler.filters):
                handler.addFilter(RedactTokens())
