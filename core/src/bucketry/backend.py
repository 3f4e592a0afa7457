"""Everything a backend is built from, in one import: the plugin author's kit.

``from bucketry.backend import ...`` is all a backend needs; the modules it gathers may move, this
list stays. What is here, by what it is for (``docs/writing-a-backend.md`` has the tables):

- the contract: :class:`Storage` and what its primitives take and give (:class:`WriteOptions`,
  :class:`ReadVersion`, :class:`FileInfo`, :class:`Capability`), and every error;
- the object-store engine, for a cloud backend: :class:`BucketStorage` and what its hooks take
  and give (:class:`Put`, :class:`Stored`, :class:`Part`, :class:`Answer`, :class:`ObjectHead`,
  :class:`Listed`, :class:`Page`), keys under a prefix, the checksum family;
- content: reading ahead, a seekable view of a buffer, parts from reused buffers;
- wire codecs: metadata in headers (and Azure's identifier keys), connection strings;
- secrets and safety: registering a secret before it can be logged, turning off an HTTP client's
  hidden resends, whether a call may block its thread, the reserved temp-name prefix.
"""

from __future__ import annotations

from bucketry.blocking import blocking_allowed
from bucketry.checksums import (
    Checksum,
    PartDigests,
    WholeCheck,
    computable,
    content_md5,
    digest_off_the_loop,
    md5_digest,
    md5_hex,
    running,
    s3_multipart_etag,
)
from bucketry.checksums import register as register_checksum
from bucketry.content import DEFAULT_CHUNK_SIZE, BytesReader, fixed_size_chunks, read_ahead
from bucketry.errors import (
    AlreadyExistsError,
    BucketryError,
    ConfigurationError,
    IntegrityError,
    InvalidContentError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    TooLargeError,
    UnavailableError,
    UnknownBackendError,
    UnsafeNameError,
    UnsupportedError,
)
from bucketry.info import Capability, FileInfo
from bucketry.metadata import decode_header_metadata, encode_header_metadata
from bucketry.names import RESERVED_PREFIX
from bucketry.objectstore import (
    Answer,
    BucketStorage,
    Listed,
    ObjectHead,
    Page,
    Part,
    Put,
    Stored,
    key_prefix,
    md5_etag_of,
    name_for_key,
    plain_etag,
)
from bucketry.parts import upload_parts
from bucketry.redaction import register_secrets, secret_parts
from bucketry.retry import RetryPolicy, forbid_hidden_resends
from bucketry.storage import ReadVersion, Storage, WriteOptions

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "RESERVED_PREFIX",
    "AlreadyExistsError",
    "Answer",
    "BucketStorage",
    "BucketryError",
    "BytesReader",
    "Capability",
    "Checksum",
    "ConfigurationError",
    "FileInfo",
    "IntegrityError",
    "InvalidContentError",
    "Listed",
    "NotFoundError",
    "ObjectHead",
    "Page",
    "Part",
    "PartDigests",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "Put",
    "ReadVersion",
    "RetryPolicy",
    "Storage",
    "Stored",
    "TooLargeError",
    "UnavailableError",
    "UnknownBackendError",
    "UnsafeNameError",
    "UnsupportedError",
    "WholeCheck",
    "WriteOptions",
    "blocking_allowed",
    "computable",
    "content_md5",
    "decode_header_metadata",
    "digest_off_the_loop",
    "encode_header_metadata",
    "fixed_size_chunks",
    "forbid_hidden_resends",
    "key_prefix",
    "md5_digest",
    "md5_etag_of",
    "md5_hex",
    "name_for_key",
    "plain_etag",
    "read_ahead",
    "register_checksum",
    "register_secrets",
    "running",
    "s3_multipart_etag",
    "secret_parts",
    "upload_parts",
]
