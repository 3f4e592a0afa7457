"""The README's command-line tour runs as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
ALIAS = 'alias bucketry="python3 -m uv run bucketry"'


def test_cli_tour_runs_as_written(tmp_path: Path) -> None:
    text = README.read_text()
    start = text.index(ALIAS)
    tour = text[start : text.index("```", start)]
    # The alias is for an interactive shell; a script calls this environment's CLI instead.
    script = tour.replace(ALIAS, f'bucketry() {{ "{sys.executable}" -m bucketry_cli "$@"; }}')
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,  # the tour writes only under the directory it runs in
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "hello" in result.stdout
    assert "https://cdn.example/greetings/hello.txt" in result.stdout
    assert (tmp_path / "tour" / "backup" / "hello.txt").read_text() == "hello\n"
    assert "| TestMemoryContract | listing | passed |" in result.stdout
    assert "/tmp/" not in tour, "the tour stays in its working directory"
