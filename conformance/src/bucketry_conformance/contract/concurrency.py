"""Saves racing each other and other operations never clobber or reorder."""

from __future__ import annotations

import asyncio
import secrets

from bucketry import Capability, Storage
from bucketry_conformance.contract._base import ContractBase, _chunks, area, requires


class Concurrency(ContractBase):
    @area("concurrency")
    @requires(Capability.CONDITIONAL_CREATE)
    async def test_concurrent_saves_of_one_name_never_clobber(
        self, storage: Storage, root: str
    ) -> None:
        count = self.concurrent_saves
        payloads = [f"writer {index} ".encode() * (index + 1) for index in range(count)]
        names = await asyncio.gather(
            *(storage.save(root + "same.txt", payload) for payload in payloads)
        )
        assert len(set(names)) == count
        assert root + "same.txt" in names
        for name, payload in zip(names, payloads, strict=True):
            assert await storage.open(name) == payload
        assert len([info async for info in storage.list(root)]) == count

    @area("concurrency")
    @requires(Capability.CONDITIONAL_CREATE)
    async def test_concurrent_stream_saves_never_clobber(self, storage: Storage, root: str) -> None:
        payloads = [secrets.token_bytes(3000 + index) for index in range(8)]
        names = await asyncio.gather(
            *(storage.save(root + "race.bin", _chunks([p[:1000], p[1000:]])) for p in payloads)
        )
        assert len(set(names)) == len(payloads)
        for name, payload in zip(names, payloads, strict=True):
            assert await storage.open(name) == payload
