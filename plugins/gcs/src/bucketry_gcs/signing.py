"""V4 signed URLs for GCS (``GOOG4-RSA-SHA256``), signed locally or through IAM signBlob.

A service-account key signs locally. Credentials without a private key (a VM's or Cloud Run's
identity) cannot, so the string to sign goes to IAM's signBlob, which signs it as the service
account; that path needs the ``iam.serviceAccounts.signBlob`` permission and the account's email.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["MAX_EXPIRY", "canonical_request", "load_private_key", "sign_url"]

MAX_EXPIRY = 7 * 24 * 3600
"""GCS refuses V4 signatures valid for longer than seven days."""

ALGORITHM = "GOOG4-RSA-SHA256"


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account key is not an RSA key")
    return key


def canonical_request(method: str, path: str, query: dict[str, str], host: str) -> str:
    """The canonical request of the V4 scheme, with only ``host`` signed."""
    canonical_query = "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in sorted(query.items())
    )
    return "\n".join([method, path, canonical_query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])


async def sign_url(
    *,
    api_root: str,
    bucket: str,
    key: str,
    method: str,
    expires: int,
    client_email: str,
    sign: Callable[[bytes], Awaitable[bytes]],
    now: datetime | None = None,
) -> str:
    """A path-style V4 URL for ``key``; ``sign`` turns the string to sign into a signature."""
    if not 0 < expires <= MAX_EXPIRY:
        raise ValueError(f"GCS signed URLs expire within {MAX_EXPIRY} seconds (seven days).")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    timestamp = moment.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{moment.strftime('%Y%m%d')}/auto/storage/goog4_request"
    parts = urlsplit(api_root)
    host = parts.netloc
    path = f"/{bucket}/{quote(key, safe='/~')}"
    query = {
        "X-Goog-Algorithm": ALGORITHM,
        "X-Goog-Credential": f"{client_email}/{scope}",
        "X-Goog-Date": timestamp,
        "X-Goog-Expires": str(expires),
        "X-Goog-SignedHeaders": "host",
    }
    request = canonical_request(method, path, query, host)
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    signature = (await sign(string_to_sign.encode())).hex()
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items()))
    return f"{parts.scheme}://{host}{path}?{encoded}&X-Goog-Signature={signature}"


def local_signer(key: rsa.RSAPrivateKey) -> Callable[[bytes], Awaitable[bytes]]:
    async def sign(payload: bytes) -> bytes:
        return key.sign(payload, padding.PKCS1v15(), hashes.SHA256())

    return sign
