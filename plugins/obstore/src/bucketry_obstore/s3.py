"""``S3ObstoreStorage``: Amazon S3 and S3-compatible services through obstore's ``S3Store``."""

from __future__ import annotations

import warnings
from typing import Any

from obstore.store import S3Store

from bucketry.backend import (
    Capability,
    ConfigurationError,
    decode_header_metadata,
    encode_header_metadata,
)
from bucketry_obstore.storage import MiB, ObstoreStorage

__all__ = ["S3ObstoreStorage"]


class S3ObstoreStorage(ObstoreStorage):
    """Files as objects in one S3 bucket, optionally under a key prefix, on obstore.

    URL form: ``s3+obstore://bucket/prefix?region=eu-west-1&endpoint_url=http://127.0.0.1:9000``;
    every constructor option may appear in the query. Credentials not given are found the way
    AWS tools find them (environment, profile files, instance metadata).
    """

    backend_name = "s3+obstore"
    service_name = "S3"
    capabilities = frozenset(Capability)
    # obstore's conditional copy on S3 is a multipart copy, which drops the content type and the
    # metadata; a copy to a free name looks first, as the SDK backend's CopyObject does.
    conditional_copy = False
    secret_options = frozenset({"access_key_id", "secret_access_key", "session_token"})

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        region: str | None = None,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        addressing_style: str | None = None,
        checksum_algorithm: str | None = None,
        server_side_encryption: str | None = None,
        sse_kms_key_id: str | None = None,
        cache_control: str | None = None,
        conditional_create: bool = True,
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
        virtual_hosted_style: bool | None = None,
    ) -> None:
        if not bucket:
            raise ConfigurationError("The s3+obstore backend needs bucket=<bucket name>.")
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigurationError("Pass both access_key_id and secret_access_key, or neither.")
        if virtual_hosted_style is not None:
            warnings.warn(
                "The 'virtual_hosted_style' option is now 'addressing_style' ('virtual' or "
                "'path'), the same name on every S3 backend; 'virtual_hosted_style' will be "
                "removed in the next release.",
                DeprecationWarning,
                stacklevel=2,
            )
            addressing_style = addressing_style or ("virtual" if virtual_hosted_style else "path")
        if addressing_style not in (None, "auto", "path", "virtual"):
            raise ConfigurationError("addressing_style must be 'auto', 'path' or 'virtual'.")
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
            container=bucket,
            cache_control=cache_control,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.addressing_style = addressing_style
        self.checksum_algorithm = checksum_algorithm
        self.server_side_encryption = server_side_encryption
        self.sse_kms_key_id = sse_kms_key_id
        self.conditional_create = conditional_create
        if not conditional_create:
            # For S3-compatible services without If-None-Match: the core falls back to
            # check-then-write, which is not race-free, and the suite reports it as unsupported.
            self.capabilities = self.capabilities - {Capability.CONDITIONAL_CREATE}

    def _public_base(self) -> str:
        if self.endpoint_url and not self._virtual():
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}"
        region = self.region or "us-east-1"
        return f"https://{self.bucket}.s3.{region}.amazonaws.com"

    def _make_store(self) -> Any:
        config: Any = {"virtual_hosted_style_request": self._virtual()}
        optional = {
            "region": self.region,
            "endpoint": self.endpoint_url,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "session_token": self.session_token,
            "checksum_algorithm": self.checksum_algorithm,
            "server_side_encryption": self.server_side_encryption,
            "sse_kms_key_id": self.sse_kms_key_id,
        }
        config.update({key: value for key, value in optional.items() if value is not None})
        if not self.conditional_create:
            config["conditional_put"] = "disabled"
        return S3Store(
            self.bucket,
            config=config,
            client_options=self._client_options(self.endpoint_url),
            retry_config=self._NO_RETRIES,
        )

    def _virtual(self) -> bool:
        """Virtual-hosted addresses only when asked: obstore's default, like a custom
        endpoint's, is the path style."""
        return self.addressing_style == "virtual"

    def _etags_are_md5(self) -> bool:
        return self.server_side_encryption not in ("aws:kms", "aws:kms:dsse")

    def _encode_metadata(self, metadata: Any) -> dict[str, str]:
        return encode_header_metadata(metadata)

    def _decode_metadata(self, stored: Any) -> dict[str, str]:
        return decode_header_metadata(stored)
