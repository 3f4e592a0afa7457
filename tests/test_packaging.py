"""What a package index shows and a fresh install needs, checked from the members' own files."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = [ROOT / "core", ROOT / "cli", ROOT / "conformance", *sorted((ROOT / "plugins").iterdir())]


def _project(member: Path) -> dict[str, object]:
    return dict(tomllib.loads((member / "pyproject.toml").read_text())["project"])


@pytest.mark.parametrize("member", MEMBERS, ids=[m.name for m in MEMBERS])
def test_every_distribution_ships_the_license_a_readme_and_its_classifiers(member: Path) -> None:
    project = _project(member)
    assert (member / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert project["license-files"] == ["LICENSE"]
    assert (member / str(project["readme"])).is_file()
    classifiers = list(project["classifiers"])  # type: ignore[call-overload]
    for minor in (11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert project["authors"]


@pytest.mark.parametrize("member", MEMBERS[1:], ids=[m.name for m in MEMBERS[1:]])
def test_members_depend_on_core_with_the_one_bound(member: Path) -> None:
    bound = f">={'.'.join(_project(ROOT / 'core')['version'].split('.')[:2])},<"  # type: ignore[attr-defined]
    dependencies = [d for d in _project(member)["dependencies"] if d.startswith("bucketry-core")]  # type: ignore[attr-defined]
    assert len(dependencies) == 1
    assert dependencies[0].startswith("bucketry-core" + bound), dependencies


@pytest.mark.parametrize("member", MEMBERS, ids=[m.name for m in MEMBERS])
def test_every_third_party_import_is_a_declared_dependency(member: Path) -> None:
    """An import whose distribution is not declared works here (the workspace has it) and
    fails on a user's machine; one declared and never imported is dead weight."""
    owners = importlib.metadata.packages_distributions()
    declared = {
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in _project(member)["dependencies"]  # type: ignore[attr-defined]
    }
    imported: set[str] = set()
    for source in (member / "src").rglob("*.py"):
        # Imports at module level are what importing the package needs; one inside a function
        # is optional (an extra: pillow for images, pytest for `bucketry check`).
        for node in ast.parse(source.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top.startswith("bucketry"):
                    continue
                distributions = owners.get(top, [])
                if len(distributions) > 1:  # a namespace (azure, gcloud): the path names it
                    distributions = [
                        d
                        for d in distributions
                        if (name + ".").startswith(d.lower().replace("-", ".") + ".")
                    ]
                imported.update(d.lower().replace("_", "-") for d in distributions)
    missing = imported - declared - {"bucketry-core"}
    assert not missing, f"{member.name} imports {sorted(missing)} without declaring them"
    if member.name == "gcs":
        assert "gcloud-aio-storage" not in declared, "declared and never imported"


def test_core_depends_on_nothing_and_the_command_is_its_own_member() -> None:
    assert _project(ROOT / "core")["dependencies"] == []
    assert "scripts" not in _project(ROOT / "core")
    assert _project(ROOT / "cli")["scripts"] == {"bucketry": "bucketry_cli:main"}  # type: ignore[comparison-overlap]
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "bucketry-cli" in root["dependencies"]


def test_a_wheel_only_install_works_as_the_docs_say(tmp_path: Path) -> None:
    """Build every distribution, install `bucketry[s3]` into a fresh environment from those
    wheels alone (third-party packages from the index), and use it as the README does."""
    import os
    import shutil
    import subprocess

    found = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in $UV
    if not found:
        pytest.skip("uv is not on this machine; the test command installs it")
    uv = [found]
    dist, venv = tmp_path / "dist", tmp_path / "venv"

    def run(*command: str | Path) -> str:
        result = subprocess.run(
            [str(part) for part in command], capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result.stdout

    run(*uv, "build", "--all-packages", "--wheel", "-o", dist, "--directory", ROOT)
    run(*uv, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    run(*uv, "pip", "install", "--python", python, "--find-links", dist, "bucketry[s3]")
    script = (
        "import asyncio, sys\n"
        "from bucketry import create_storage, available_backends\n"
        "assert {'filesystem', 'memory', 's3'} <= set(available_backends()), available_backends()\n"
        "async def main():\n"
        f"    async with create_storage('file://{tmp_path}/files') as storage:\n"
        "        name = await storage.save('a.txt', b'hi')\n"
        "        print(await storage.open(name))\n"
        "asyncio.run(main())\n"
    )
    assert run(python, "-c", script).strip() == "b'hi'"
    assert run(venv / "bin" / "bucketry", "--version").startswith("bucketry, version ")
