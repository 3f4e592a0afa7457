"""Which Azure account a storage speaks to, and how a URL is signed for it.

No requests here: the options say the blob endpoint, the account name and, where there is one,
its key; a SAS is signed locally with that key, or with a user-delegation key the storage asks
the service to lend a token credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from bucketry.azure import parse_connection_string
from bucketry.backend import (
    ConfigurationError,
)

__all__ = ["SKEW", "Account", "blob_sas", "resolve_account"]

SKEW = timedelta(minutes=5)
"""How far before now a SAS starts: clocks differ."""
_PERMISSIONS = {
    "GET": BlobSasPermissions(read=True),
    "HEAD": BlobSasPermissions(read=True),
    "PUT": BlobSasPermissions(write=True, create=True),
    "DELETE": BlobSasPermissions(delete=True),
}


@dataclass(frozen=True)
class Account:
    endpoint: str
    """The blob endpoint, without a trailing ``/``: ``https://acct.blob.core.windows.net``, or
    ``http://127.0.0.1:10000/devstoreaccount1`` for an emulator."""
    name: str | None
    key: str | None
    """The account key: what signs a SAS without a request."""
    sas_token: str | None = None
    """A SAS the connection string carries."""


def resolve_account(
    connection_string: str | None,
    account_url: str | None,
    account_name: str | None,
    account_key: str | None,
) -> Account:
    """The account, from whichever options were given (a connection string first)."""
    if connection_string:
        parts = parse_connection_string(connection_string)
        name = parts.get("AccountName") or account_name
        endpoint = parts.get("BlobEndpoint")
        if not endpoint and not name:
            raise ConfigurationError(
                "The Azure connection string has neither BlobEndpoint nor AccountName."
            )
        if not endpoint:
            protocol = parts.get("DefaultEndpointsProtocol", "https")
            endpoint = f"{protocol}://{name}.blob.{parts.get('EndpointSuffix', 'core.windows.net')}"
        key = parts.get("AccountKey") or account_key
        return Account(endpoint.rstrip("/"), name, key, parts.get("SharedAccessSignature"))
    if not account_url and not account_name:
        raise ConfigurationError(
            "The azure backend needs connection_string, or account_url (or account_name) with "
            "a credential."
        )
    endpoint = (account_url or f"https://{account_name}.blob.core.windows.net").rstrip("/")
    if account_name is None:
        parsed = urlsplit(endpoint)
        host = parsed.hostname or ""
        if ".blob." in host:
            account_name = host.split(".", 1)[0]
        elif parsed.path.strip("/"):
            account_name = parsed.path.strip("/").split("/", 1)[0]  # emulator: host/account
    return Account(endpoint, account_name, account_key)


def blob_sas(
    account: Account, container: str, key: str, method: str, expires: int, lent: Any = None
) -> str:
    """A SAS for ``method`` on one blob, valid ``expires`` seconds: signed with the account key,
    or with ``lent``, a user-delegation key."""
    now = datetime.now(UTC)
    return str(
        generate_blob_sas(
            account_name=account.name or "",
            container_name=container,
            blob_name=key,
            account_key=None if lent else account.key,
            user_delegation_key=lent,
            permission=_PERMISSIONS[method],
            start=now - SKEW,
            expiry=now + timedelta(seconds=expires),
        )
    )
