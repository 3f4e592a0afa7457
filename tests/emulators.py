"""Real emulators on loopback, started and stopped by the test suite itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

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
