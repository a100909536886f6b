"""Structured logging (structlog over the standard library) and the log-based error reporter."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = {"password", "token", "api_key", "apikey", "secret", "authorization", "card"}


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: a log field whose name smells secret is never written."""
    for key in list(event_dict):
        if any(s in key.lower() for s in _SECRET_KEYS):
            event_dict[key] = "[redacted]"
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing.

    Binding the stream once at configuration would keep writing to a stream that a test
    runner (or a daemon's redirection) has since closed.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    _route_to_structlog(STRUCTURED_STDLIB_LOGGERS, level)


# Core loggers (the core uses only the standard library) whose records are written as
# structured events, with their ``extra`` fields (e.g. the import engine's job_id, org_id).
STRUCTURED_STDLIB_LOGGERS = ("fitdata.imports",)
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class _StructlogHandler(logging.Handler):
    """Writes standard-library records through structlog, ``extra`` fields as event fields."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
        log = structlog.get_logger(record.name)
        method = record.levelname.lower() if record.levelname else "info"
        getattr(log, method if method in {"debug", "info", "warning", "error"} else "info")(
            record.getMessage(), **fields
        )


def _route_to_structlog(names: tuple[str, ...], level: str) -> None:
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _StructlogHandler)]
        logger.addHandler(_StructlogHandler())
        logger.setLevel(logging.getLevelName(level))
        logger.propagate = False


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


class LogErrorReporter:
    """Reports errors and alerts to the structured log (a Sentry adapter would sit here)."""

    def __init__(self) -> None:
        self._log = get_logger("fitdata.alerts")

    def capture_exception(self, exc: BaseException, **context: Any) -> None:
        self._log.error("exception", error=type(exc).__name__, message=str(exc), **context)

    def capture_message(self, message: str, *, level: str = "warning", **context: Any) -> None:
        getattr(self._log, level if level in {"info", "warning", "error"} else "warning")(
            message, **context
        )
