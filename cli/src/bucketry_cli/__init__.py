"""The ``bucketry`` command line: ``ls``, ``cp``, ``cat``, ``rm``, ``stat``, ``url``, ``check``."""

from __future__ import annotations

from bucketry_cli.app import cli, main

__all__ = ["cli", "main"]
