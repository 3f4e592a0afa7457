"""What ``stat`` reports: size, times, ETag, content type and user metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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

    @area("metadata")
    @requires(Capability.METADATA)
    @pytest.mark.parametrize(
        ("metadata", "error"),
        [
            ({1: "v"}, TypeError),
            ({"k": 1}, TypeError),
            ({"k": None}, TypeError),
            ({"ké": "v"}, ValueError),
            ({"a b": "v"}, ValueError),
            ({"a.b": "v"}, ValueError),
            ({"-": "v"}, ValueError),
            ({"": "v"}, ValueError),
        ],
        ids=["int-key", "int-value", "none-value", "non-ascii", "space", "dot", "dash", "empty"],
    )
    async def test_metadata_every_backend_cannot_store_is_refused(
        self, storage: Storage, root: str, metadata: dict[Any, Any], error: type[Exception]
    ) -> None:
        with pytest.raises(error):
            await storage.save(root + "meta.txt", b"x", metadata=metadata)
        assert not await storage.exists(root + "meta.txt"), "a refused save must store nothing"
        assert [info async for info in storage.list(root)] == []

    @area("metadata")
    @requires(Capability.METADATA)
    async def test_metadata_keys_of_every_allowed_kind_round_trip(
        self, storage: Storage, root: str
    ) -> None:
        metadata = {"a-b_c": "1", "9lives": "0", "k": "a value, with: punctuation; ünïcode"}
        name = await storage.save(root + "meta.txt", b"x", metadata=metadata)
        assert dict((await storage.stat(name)).metadata) == metadata
