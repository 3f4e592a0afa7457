"""Backends are found by name through the ``bucketry.backends`` entry-point group.

Built-in backends use the same door as third-party ones: a distribution declares::

    [project.entry-points."bucketry.backends"]
    mybackend = "my_package.storage:MyStorage"

Entry points are read once and loaded only when a name is asked for, so a broken plugin (say, its
SDK is missing) breaks only itself, and it says why when someone asks for it by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from bucketry.errors import ConfigurationError, UnknownBackendError
from bucketry.storage import Storage

__all__ = ["ENTRY_POINT_GROUP", "BackendEntry", "available_backends", "load_backend"]

ENTRY_POINT_GROUP = "bucketry.backends"

INSTALL_HINTS = {
    "s3": "bucketry[s3]",
    "gcs": "bucketry[gcs]",
    "gs": "bucketry[gcs]",
    "azure": "bucketry[azure]",
    "memory": "bucketry",
    "filesystem": "bucketry",
    "file": "bucketry",
}
"""Backends bucketry knows of, and what to install to get each."""


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """An installed backend: its name, where it comes from, and its class once loaded."""

    name: str
    target: str
    distribution: str | None


_entries: dict[str, EntryPoint] | None = None
_loaded: dict[str, type[Storage]] = {}


def _read_entry_points() -> dict[str, EntryPoint]:
    global _entries
    if _entries is None:
        _entries = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _entries


def refresh() -> None:
    """Forget what was read, so backends installed since are seen (tests, notebooks)."""
    global _entries
    _entries = None
    _loaded.clear()


def available_backends() -> dict[str, BackendEntry]:
    """Every installed backend by name, without importing any of them."""
    return {
        name: BackendEntry(name, ep.value, ep.dist.name if ep.dist else None)
        for name, ep in sorted(_read_entry_points().items())
    }


def load_backend(name: str) -> type[Storage]:
    """The storage class registered as ``name``; raise :class:`UnknownBackendError` if none is."""
    if name in _loaded:
        return _loaded[name]
    entries = _read_entry_points()
    entry = entries.get(name)
    if entry is None:
        installed = ", ".join(sorted(entries)) or "none"
        hint = INSTALL_HINTS.get(name)
        advice = (
            f'install it with: pip install "{hint}"'
            if hint
            else "check the spelling, or install the package that provides it"
        )
        raise UnknownBackendError(
            f"No storage backend named {name!r} is installed ({advice}). "
            f"Installed backends: {installed}."
        )
    try:
        backend = entry.load()
    except ImportError as exc:
        hint = INSTALL_HINTS.get(name, entry.dist.name if entry.dist else entry.value)
        raise UnknownBackendError(
            f"The {name!r} backend is registered but could not be imported ({exc}); "
            f'reinstall it with: pip install "{hint}"'
        ) from exc
    if not (isinstance(backend, type) and issubclass(backend, Storage)):
        raise ConfigurationError(
            f"Entry point {name!r} = {entry.value!r} is not a bucketry.Storage subclass."
        )
    _loaded[name] = backend
    return backend
