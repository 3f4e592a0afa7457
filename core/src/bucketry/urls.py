"""Storage URLs as configuration takes them apart and as error messages may quote them."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from bucketry.errors import ConfigurationError
from bucketry.redaction import scrub

__all__ = ["split_url", "url_shape"]


def split_url(url: str) -> SplitResult:
    """``urlsplit``, with a URL it cannot parse (``s3://[x/``) as a ``ConfigurationError`` that
    quotes the URL's shape only."""
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(
            f"{url_shape(url)!r} is not a valid URL ({exc}); check its brackets and host."
        ) from None


def url_shape(url: str) -> str:
    """A URL as configuration errors may quote it: its query (where options, and so credentials,
    travel) replaced by ``?...``, and any password by ``***``."""
    head, question, _ = url.partition("?")
    return scrub(head) + ("?..." if question else "")
