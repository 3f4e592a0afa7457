"""What ``stat`` reports: size, times, ETag, content type and user metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bucketry import Capability, Storage
from bucketry_conformance.contract._base import ContractBase, area, requires


class Metadata(ContractBase):
    @area("stat")
    async def test_stat_describes_the_file(self, storage: Storage, root: str) -> None:
        before = datetime.now(UTC) - timedelta(minutes=5)
        name = await storage.save(root + "stat.txt", b"twelve bytes")
        info = await storage.stat(name)
        assert info.name == name
        assert info.size == 12
        if info.last_modified is not None:
            assert info.last_modified.tzinfo is not None
            assert before <= info.last_modified <= datetime.now(UTC) + timedelta(minutes=5)
        await storage.save(name, b"other content", overwrite=True)
        changed = await storage.stat(name)
        assert changed.size == 13
        if info.etag is not None:
            assert changed.etag is not None
            assert changed.etag != info.etag

    @area("metadata")
    @requires(Capability.CONTENT_TYPE)
    async def test_content_type_round_trips(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "page", b"<p>hi</p>", content_type="text/html")
        assert (await storage.stat(name)).content_type == "text/html"

    @area("metadata")
    @requires(Capability.METADATA)
    async def test_metadata_round_trips(self, storage: Storage, root: str) -> None:
        metadata = {"owner": "ada", "purpose": "test-run", "unicode": "ñandú"}
        name = await storage.save(root + "meta.txt", b"x", metadata=metadata)
        assert dict((await storage.stat(name)).metadata) == metadata
        listed = [info async for info in storage.list(root)]
        assert [info.name for info in listed] == [name]
