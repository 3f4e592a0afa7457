"""What a command-line argument names: a storage and a name (or prefix) inside it.

Three spellings, tried in this order:

- a URL, ``scheme://bucket/path/in/bucket?option=value``: the scheme is the backend, the
  bucket (container, …) and the query configure it, the path is the name;
- ``alias:path``, a storage named in ``bucketry.toml`` (the working directory's, else the user's
  config directory's) or in ``BUCKETRY_STORAGE_URL_<ALIAS>``;
- anything else is a local path, reached through the filesystem backend rooted at ``/``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bucketry.config import ENVIRONMENT_VARIABLE, create_storage
from bucketry.errors import ConfigurationError
from bucketry.storage import Storage
from bucketry.urls import split_url

__all__ = ["CONFIG_FILE", "Target", "config_paths", "resolve"]

CONFIG_FILE = "bucketry.toml"
_ALIAS = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(?!//)(.*)$", re.S)


@dataclass
class Target:
    """A storage and a path inside it; ``path`` is a name or a directory prefix."""

    storage: Storage
    path: str
    local: bool = False
    spelled: str = ""

    @property
    def is_directory(self) -> bool:
        """Spelled as a directory: empty, ending in ``/``, or an existing local directory."""
        if not self.path or self.path.endswith("/"):
            return True
        return self.local and os.path.isdir("/" + self.path)

    def shown(self, path: str | None = None) -> str:
        """How to print a path of this target: local paths absolute, others as names."""
        path = self.path if path is None else path
        return "/" + path if self.local else path

    def child(self, relative: str) -> Target:
        base = self.path if not self.path or self.path.endswith("/") else self.path + "/"
        return Target(self.storage, base + relative, self.local, self.spelled)

    def same_storage_as(self, other: Target) -> bool:
        """Same backend and same configuration: a copy between them can stay server-side."""
        return type(self.storage) is type(other.storage) and (
            self.storage is other.storage or repr(self.storage) == repr(other.storage)
        )


def config_paths(explicit: str | None = None) -> list[Path]:
    """Where named storages are looked up, first match wins."""
    if explicit:
        return [Path(explicit)]
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return [Path.cwd() / CONFIG_FILE, Path(home) / "bucketry" / CONFIG_FILE]


def _named_storages(config: str | None) -> dict[str, dict[str, Any]]:
    for path in config_paths(config):
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigurationError(f"Cannot read {path}: {exc}") from None
            storages = data.get("storages", {})
            if not isinstance(storages, dict):
                raise ConfigurationError(f"{path}: [storages] must be a table of named storages.")
            return {str(name): dict(options) for name, options in storages.items()}
        if config:
            raise ConfigurationError(f"Config file {path} does not exist.")
    return {}


def _environment_aliases() -> list[str]:
    prefix = f"{ENVIRONMENT_VARIABLE}_"
    return sorted(
        name[len(prefix) :].lower().replace("_", "-")
        for name in os.environ
        if name.startswith(prefix)
    )


def _storage_for_alias(alias: str, config: str | None) -> Storage | None:
    named = _named_storages(config).get(alias)
    if named is not None:
        named = dict(named)
        if "url" in named:
            url = str(named.pop("url"))
            if named:
                raise ConfigurationError(
                    f"Storage {alias!r} in {CONFIG_FILE} has both url and other options; "
                    "put the options in the URL's query or drop the url."
                )
            return create_storage(url)
        backend = named.pop("backend", None)
        if not backend:
            raise ConfigurationError(
                f"Storage {alias!r} in {CONFIG_FILE} needs url = '...' or backend = '...'."
            )
        return create_storage(str(backend), **named)
    from_environment = os.environ.get(f"{ENVIRONMENT_VARIABLE}_{alias.upper().replace('-', '_')}")
    return create_storage(from_environment) if from_environment else None


def resolve(argument: str, config: str | None = None) -> Target:
    """Turn one command-line argument into a :class:`Target`."""
    if "://" in argument:
        parts = split_url(argument)
        # The URL without its path configures the storage; the path is the name inside it.
        root = "/" if parts.scheme in {"file", "filesystem"} else ""
        query = f"?{parts.query}" if parts.query else ""
        netloc, path = parts.netloc, unquote(parts.path).lstrip("/")
        if parts.scheme == "memory":  # no bucket: memory://key names the key
            netloc, path = "", "/".join(p for p in (unquote(parts.netloc), path) if p)
        storage_url = f"{parts.scheme}://{netloc}{root}{query}"
        return Target(create_storage(storage_url), path, local=bool(root), spelled=argument)
    match = _ALIAS.match(argument)
    if match and not os.path.exists(argument):
        storage = _storage_for_alias(match.group(1), config)
        if storage is None:
            # A typo of an alias must not quietly become a local path named "medai:greetings".
            configured = sorted(_named_storages(config)) + _environment_aliases()
            raise ConfigurationError(
                f"{match.group(1)!r} is not a configured storage (configured: "
                f"{', '.join(configured) or 'none'}; see {CONFIG_FILE}). A local path "
                f"containing ':' is written ./{argument}."
            )
        return Target(storage, match.group(2), spelled=argument)
    absolute = os.path.abspath(argument)
    path = absolute.lstrip("/")
    if argument.endswith("/") or (os.path.isdir(absolute) and path):
        path = path + "/" if path else ""
    return Target(create_storage("filesystem", location="/"), path, local=True, spelled=argument)
