"""Names as keys under a prefix, and back."""

from __future__ import annotations

from bucketry.errors import UnsafeNameError
from bucketry.names import clean_name

__all__ = ["key_prefix", "name_for_key"]


def key_prefix(prefix: str) -> str:
    """A backend's ``prefix`` option as stored before every key: ``""`` or ``"a/b/"``."""
    stripped = prefix.strip("/")
    return stripped + "/" if stripped else ""


def name_for_key(key: str, prefix: str) -> str | None:
    """The name a listed object key stands for, or ``None`` if no name maps to it.

    Object stores hold keys bucketry would never write (console folder markers like ``dir/``,
    ``a//b``); listings skip them so every listed name can be opened.
    """
    if not key.startswith(prefix):
        return None
    name = key[len(prefix) :]
    try:
        return name if clean_name(name) == name else None
    except UnsafeNameError:
        return None
