"""Credentials: service-account keys, access tokens (gcloud-aio-auth), and V4 signed URLs for
GCS (``GOOG4-RSA-SHA256``), signed locally or through IAM signBlob.

A service-account key signs locally. Credentials without a private key (a VM's or Cloud Run's
identity) cannot, so the string to sign goes to IAM's signBlob, which signs it as the service
account; that path needs the ``iam.serviceAccounts.signBlob`` permission and the account's email.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bucketry.backend import (
    ConfigurationError,
    register_secrets,
    secret_parts,
)

__all__ = [
    "MAX_EXPIRY",
    "access_token",
    "canonical_request",
    "load_private_key",
    "read_key",
    "sign_url",
    "signer",
]

MAX_EXPIRY = 7 * 24 * 3600
"""GCS refuses V4 signatures valid for longer than seven days."""

ALGORITHM = "GOOG4-RSA-SHA256"

Signer = Callable[[bytes], Awaitable[bytes]]


def read_key(
    service_file: str | None, service_info: str | Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, rsa.RSAPrivateKey | None]:
    """The service-account key's JSON (from ``service_info``, else ``service_file``) and its
    private key, registered as a secret before anything can show it. Errors name neither."""
    try:
        if service_info is not None:
            info = dict(json.loads(service_info) if isinstance(service_info, str) else service_info)
        elif service_file:
            with open(service_file, encoding="utf-8") as file:
                info = dict(json.load(file))
        else:
            return None, None
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"Could not read the GCS service account key ({type(exc).__name__}); check "
            "service_file or service_info."
        ) from None
    if "private_key" not in info:
        return info, None
    register_secrets(secret_parts(str(info["private_key"])))
    try:
        return info, load_private_key(str(info["private_key"]))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigurationError(
            "The GCS service account key's private_key is not a readable RSA key in PEM "
            "form; download the key again, or check service_file or service_info."
        ) from None


def access_token(key_info: Mapping[str, Any] | None, session: Any, scopes: list[str]) -> Any:
    """gcloud-aio-auth's tokens for the key, or for application default credentials."""
    import io

    from gcloud.aio.auth import Token

    service = io.StringIO(json.dumps(key_info)) if key_info is not None else None
    return Token(service_file=service, session=session, scopes=scopes)


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
    sign: Signer,
    now: datetime | None = None,
) -> str:
    """A path-style V4 URL for ``key``; ``sign`` turns the string to sign into a signature."""
    if not 0 < expires <= MAX_EXPIRY:
        raise ConfigurationError(
            f"GCS signed URLs expire within {MAX_EXPIRY} seconds (seven days)."
        )
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


def signer(
    key_info: Mapping[str, Any] | None,
    private_key: rsa.RSAPrivateKey | None,
    account: str | None,
    session: Any,
    token: Any,
) -> tuple[str, Signer]:
    """Who signs, and how: the key's own account locally, else ``account`` through IAM's
    signBlob (credentials without a private key)."""
    if private_key is not None and key_info is not None:

        async def sign_locally(payload: bytes) -> bytes:
            return private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())

        return str(key_info["client_email"]), sign_locally
    from gcloud.aio.auth import IamClient

    client = IamClient(session=session, token=token)

    async def sign_by_iam(payload: bytes) -> bytes:
        result = await client.sign_blob(payload, account)
        return base64.b64decode(result["signedBlob"])

    return str(account), sign_by_iam
