"""The documentation as a reader meets it: the site builds without a warning, and the
command-line tour runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "docs" / "cli.md"
ALIAS = 'alias bucketry="python3 -m uv run bucketry"'


def test_cli_tour_runs_as_written(tmp_path: Path) -> None:
    text = TOUR.read_text()
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
    assert result.stdout.count("hello\n") == 2, "read through the storage, then copied back"
    assert not any(tmp_path.iterdir()), "the tour leaves nothing where it ran (a checkout)"
    assert "| TestMemoryContract | listing | passed |" in result.stdout
    assert "/tmp/" not in tour, "the tour stays in its working directory"


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reference = (tmp_path / "reference" / "index.html").read_text()
    assert "Storage.save" in reference, "the API reference is generated from the docstrings"
    roles = re.findall(r":(?:meth|class|func|data|mod|attr|exc):", reference)
    assert not roles, f"{len(roles)} raw Sphinx roles in the API reference"
    assert (tmp_path / "reliability" / "index.html").exists()


def test_the_readme_links_to_pages_that_exist() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(targets) >= 10
    for target in targets:
        assert (ROOT / target).is_file(), target


def test_the_readme_and_the_site_give_the_same_commands_and_extras() -> None:
    """A newcomer reads one or the other: the two commands and the install lines are the same
    text in both (from "## The two commands" up to the distributions paragraph)."""

    def section(text: str) -> str:
        start = text.index("## The two commands")
        return text[start : text.index("Each backend is its own distribution", start)]

    readme = (ROOT / "README.md").read_text()
    index = (ROOT / "docs" / "index.md").read_text()
    assert section(readme) == section(index)
    named = re.findall(r'"bucketry\[([a-z0-9,-]+)\]"', section(readme))
    extras = {extra for group in named for extra in group.split(",")}
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras == set(optional), f"install lines and extras differ: {extras ^ set(optional)}"
    everything = optional["all"][0]  # "bucketry[check,s3,...]": really everything
    assert set(everything.split("[")[1].rstrip("]").split(",")) == set(optional) - {"all"}
