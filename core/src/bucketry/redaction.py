"""Keeping credentials out of log records, whichever library writes them.

SDKs log requests at DEBUG level; botocore's include the ``Authorization`` header, which names the
access key. A storage registers its secret option values here, and a log record factory replaces
them with ``***`` in every record's message and arguments, before any handler sees it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "register_secrets", "scrub"]

REDACTED = "***"
_MIN_LENGTH = 6  # shorter values ("", "1") would redact ordinary text

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes):
        try:
            return scrub(value.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, dict):
        return {key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub_value(item) for item in value)
    if value is not None and not isinstance(value, (int, float, bool)):
        text = str(value)
        cleaned = scrub(text)
        return cleaned if cleaned != text else value
    return value


def register_secrets(values: Iterable[str | None]) -> None:
    """Never let these strings reach a log record (installs the record factory once)."""
    global _installed
    fresh = {value for value in values if isinstance(value, str) and len(value) >= _MIN_LENGTH}
    if not fresh:
        return
    with _lock:
        _secrets.update(fresh)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _secrets:
                record.msg = _scrub_value(record.msg)
                if record.args:
                    record.args = _scrub_value(record.args)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
