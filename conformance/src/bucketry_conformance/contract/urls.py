"""Public and signed addresses, fetched with a plain HTTP client."""

from __future__ import annotations

import asyncio
import secrets

from bucketry import Capability, Storage
from bucketry_conformance.contract._base import ContractBase, _http, area, requires


class Urls(ContractBase):
    @area("urls")
    @requires(Capability.PUBLIC_URL)
    async def test_url_shape(self, storage: Storage, root: str) -> None:
        from urllib.parse import unquote, urlsplit

        name = root + "dir/a file ñ#?.txt"
        url = storage.url(name)
        assert isinstance(url, str)
        assert " " not in url
        assert "#" not in url.rsplit("/", 1)[-1]
        assert unquote(urlsplit(url).path).endswith(name)

    @area("urls")
    @requires(Capability.SIGNED_URL)
    async def test_signed_get_url_works_with_a_plain_http_client(
        self, storage: Storage, root: str
    ) -> None:
        data = secrets.token_bytes(2048)
        name = await storage.save(root + "signed file.bin", data)
        url = await storage.signed_url(name, expires=300)
        status, body = await asyncio.to_thread(_http, "GET", url)
        assert status == 200
        assert body == data

    @area("urls")
    @requires(Capability.SIGNED_URL)
    async def test_signed_put_url_works_with_a_plain_http_client(
        self, storage: Storage, root: str
    ) -> None:
        name = root + "uploaded.bin"
        url = await storage.signed_url(name, expires=300, method="PUT")
        headers = dict(storage.signed_put_headers)
        status, _ = await asyncio.to_thread(_http, "PUT", url, b"sent by a browser", headers)
        assert 200 <= status < 300
        assert await storage.open(name) == b"sent by a browser"
