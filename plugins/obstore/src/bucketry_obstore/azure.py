"""``AzureObstoreStorage``: Azure Blob Storage through obstore's ``AzureStore``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode

from obstore.store import AzureStore

from bucketry.azure import (
    CONTENT_MD5_KEY,
    decode_azure_metadata,
    encode_azure_metadata,
    parse_connection_string,
)
from bucketry.backend import (
    Capability,
    ConfigurationError,
)
from bucketry_obstore.storage import MiB, ObstoreStorage

__all__ = ["AzureObstoreStorage"]


class AzureObstoreStorage(ObstoreStorage):
    """Files as blobs in one Azure container, optionally under a name prefix, on obstore.

    Credentials: ``connection_string`` (its account, key and blob endpoint are used), or
    ``account_name`` with ``account_key`` or ``sas_token``; otherwise the Azure environment's
    credentials. URL form: ``azure+obstore://container/prefix?account_name=...``.
    """

    backend_name = "azure+obstore"
    service_name = "Azure"
    bucket_option = "container"
    capabilities = frozenset(Capability)
    secret_options = frozenset({"connection_string", "account_key", "sas_token"})
    signed_put_headers = MappingProxyType({"x-ms-blob-type": "BlockBlob"})
    # Azure's ETags are opaque and obstore shows no Content-MD5: the MD5 travels as metadata.
    md5_attribute = CONTENT_MD5_KEY

    def __init__(
        self,
        *,
        container: str,
        prefix: str = "",
        connection_string: str | None = None,
        account_name: str | None = None,
        account_key: str | None = None,
        sas_token: str | None = None,
        endpoint: str | None = None,
        verify_uploads: bool | None = None,
        cache_control: str | None = None,
        multipart_threshold: int = 8 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 6,
        list_page_size: int = 1000,
        max_attempts: int = 5,
        retry_deadline: float = 60.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        querystring_expire: int = 3600,
        custom_domain: str | None = None,
    ) -> None:
        if not container:
            raise ConfigurationError("The azure+obstore backend needs container=<container name>.")
        self._setup(
            prefix=prefix,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
            max_concurrency=max_concurrency,
            list_page_size=list_page_size,
            max_attempts=max_attempts,
            retry_deadline=retry_deadline,
            custom_domain=custom_domain,
            querystring_expire=querystring_expire,
        )
        self._keep(
            container=container,
            cache_control=cache_control,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.connection_string = connection_string
        if connection_string is not None:
            parts = parse_connection_string(connection_string)
            account_name = account_name or parts.get("AccountName")
            account_key = account_key or parts.get("AccountKey")
            sas_token = sas_token or parts.get("SharedAccessSignature")
            endpoint = endpoint or parts.get("BlobEndpoint")
        if not account_name:
            raise ConfigurationError(
                "The azure+obstore backend needs account_name=<storage account> "
                "(or a connection_string that names it)."
            )
        self.account_name = account_name
        self.account_key = account_key
        self.sas_token = sas_token
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        # obstore sends no Content-MD5 and shows none: on plain HTTP (an emulator, a private
        # endpoint) an upload is read back to be checked; on HTTPS, TLS refuses damaged bytes.
        if verify_uploads is None:
            verify_uploads = bool(self.endpoint and self.endpoint.startswith("http://"))
        self.verify_uploads = verify_uploads

    def _public_base(self) -> str:
        base = self.endpoint or f"https://{self.account_name}.blob.core.windows.net"
        return f"{base}/{self.container}"

    def _make_store(self) -> Any:
        config: Any = {"account_name": self.account_name}
        if self.account_key is not None:
            config["account_key"] = self.account_key
        if self.sas_token is not None:
            config["sas_key"] = self.sas_token
        if self.endpoint is not None:
            config["endpoint"] = self.endpoint
        return AzureStore(
            self.container,
            config=config,
            client_options=self._client_options(self.endpoint),
            retry_config=self._NO_RETRIES,
        )

    async def _sign(self, key: str, method: str, expires: int) -> str:
        if self.account_key is None:
            return await super()._sign(key, method, expires)
        # obstore signs the percent-encoded path, which Azure refuses for a name that needs
        # encoding ("a b.txt"); a service SAS is signed here over the name as Azure reads it.
        now = datetime.now(UTC).replace(microsecond=0)
        fields = {
            "sp": _SAS_PERMISSIONS[method],
            "st": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "se": (now + timedelta(seconds=expires)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sv": _SAS_VERSION,
            "sr": "b",
        }
        resource = f"/blob/{self.account_name}/{self.container}/{key}"
        to_sign = "\n".join(
            [fields["sp"], fields["st"], fields["se"], resource, "", "", "", _SAS_VERSION, "b"]
            + [""] * 7
        )
        digest = hmac.new(base64.b64decode(self.account_key), to_sign.encode(), hashlib.sha256)
        fields["sig"] = base64.b64encode(digest.digest()).decode()
        return f"{self._public_base()}/{quote(key)}?{urlencode(fields)}"

    def _encode_metadata(self, metadata: Mapping[str, str]) -> dict[str, str]:
        return encode_azure_metadata(metadata)

    def _decode_metadata(self, stored: Mapping[str, str]) -> dict[str, str]:
        return decode_azure_metadata(stored)


_SAS_VERSION = "2023-11-03"
_SAS_PERMISSIONS = {"GET": "r", "HEAD": "r", "PUT": "cw", "DELETE": "d"}
