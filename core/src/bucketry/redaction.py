"""Keeping credentials out of every message bucketry builds and every log record.

Two kinds of secret are recognised. Values a storage was given as secrets (``secret_options``,
a connection string's keys, a private key) are registered when the storage is constructed, and
replaced wherever they appear, raw or URL-encoded (a presigned URL carries the session token
percent-encoded). And the values of URL query parameters and ``key=value;`` pairs whose names say
secret (``secret_access_key=``, ``sig=``, ``X-Amz-Credential=``, ``AccountKey=``, …) and of
passwords in ``user:password@host`` are replaced wherever they appear, registered or not, so a URL
quoted in an error or echoed by the CLI shows its shape but not its keys.

:func:`scrub` is applied to the message of every :class:`~bucketry.errors.BucketryError` when it
is made, by the CLI to everything it prints, and, once a secret is registered, by a log record
factory to every record's message and arguments before any handler sees it (SDKs log requests at
DEBUG level; botocore's include the ``Authorization`` header, which names the access key).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "register_secrets", "scrub", "secret_parts"]

REDACTED = "***"
_MIN_LENGTH = 6  # shorter values ("", "1") would redact ordinary text

_SECRET_PARAMETER = re.compile(
    r"(?i)((?:^|(?<=[?&;,\s/]))[\w.-]*(?:key|secret|token|sig|signature|password|credential"
    r"|service_info|connection_string|sas)[\w.-]*=)([^&;,\s'\"]+)"
)
_PASSWORD_IN_URL = re.compile(r"(://[^/:@\s]+:)([^@/\s]+)@")

_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()
_lock = threading.Lock()
_installed = False


def scrub(text: str) -> str:
    """``text`` with every registered secret and every secret-named parameter value as ``***``."""
    for secret in _longest_first:  # a secret inside another is replaced after it
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "=" in text:
        text = _SECRET_PARAMETER.sub(lambda match: match.group(1) + REDACTED, text)
    if "@" in text:
        text = _PASSWORD_IN_URL.sub(lambda match: match.group(1) + REDACTED + "@", text)
    return text


def secret_parts(value: str) -> list[str]:
    """``value`` and what of it may be quoted alone: each secret of a ``key=value;`` string (a
    connection string, a SAS) and each line of a PEM key."""
    parts = [value]
    for pair in re.split(r"[;&]", value):
        key, _, secret = pair.partition("=")
        if secret and _SECRET_PARAMETER.match(f"{key.strip()}={secret}"):
            parts.append(secret)
    if "-----BEGIN" in value:
        parts += [line for line in value.replace("\\n", "\n").splitlines() if "-----" not in line]
    return parts


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
    global _installed, _longest_first
    fresh = set()
    for value in values:
        if isinstance(value, str) and len(value) >= _MIN_LENGTH:
            # As they appear in URLs too: botocore percent-encodes a session token's "/" and "+".
            fresh.update({value, quote(value, safe=""), quote_plus(value, safe="")})
    fresh.difference_update(_secrets)
    if not fresh:
        return
    with _lock:
        _secrets.update(fresh)
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))
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
