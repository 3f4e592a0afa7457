"""The real `bucketry` command, run as a user would: output and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys


def bucketry(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bucketry.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_check_memory_prints_the_contract_table() -> None:
    result = bucketry("check", "memory")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| TestMemoryContract | listing | passed |" in result.stdout
    assert "| TestMemoryContract | urls | passed | 1 | 0 | 2 | 0 |" in result.stdout


def test_check_filesystem_gets_a_temporary_location() -> None:
    result = bucketry("check", "filesystem", "-k", "round_trip")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| TestFilesystemContract | round-trip | passed |" in result.stdout


def test_unknown_backend_is_one_line_and_exit_2() -> None:
    result = bucketry("check", "nope")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Installed backends:" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_is_a_usage_error() -> None:
    result = bucketry("check", "memory", "-o", "no-equals-sign")
    assert result.returncode == 2
    assert "key=value" in result.stderr


def test_backends_lists_builtins() -> None:
    result = bucketry("backends")
    assert result.returncode == 0
    assert "filesystem" in result.stdout
    assert "memory" in result.stdout
