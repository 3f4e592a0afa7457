"""Honest capability declarations, closing and reopening, secrets kept out of ``repr``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bucketry import Capability, IntegrityError, ReadVersion, Storage, UnsupportedError
from bucketry_conformance.contract._base import ContractBase, _read, area


class Lifecycle(ContractBase):
    @area("capabilities")
    @pytest.mark.parametrize("capability", list(Capability), ids=[c.value for c in Capability])
    async def test_capability_declarations_are_honest(
        self, storage: Storage, root: str, capability: Capability
    ) -> None:
        declared = storage.supports(capability)
        name = root + "honest.txt"
        if capability is Capability.PUBLIC_URL:
            if declared:
                assert isinstance(storage.url(name), str)
            else:
                with pytest.raises(UnsupportedError):
                    storage.url(name)
        elif capability is Capability.SIGNED_URL:
            await storage.save(name, b"x")
            if declared:
                assert isinstance(await storage.signed_url(name), str)
            else:
                with pytest.raises(UnsupportedError):
                    await storage.signed_url(name)
                # Said first, whatever else is wrong with the call: that is what to fix.
                with pytest.raises(UnsupportedError):
                    await storage.signed_url(name, expires=0, method="PATCH")
        elif capability is Capability.METADATA:
            if declared:
                await storage.save(name, b"x", metadata={"k": "v"})
                assert dict((await storage.stat(name)).metadata) == {"k": "v"}
            else:
                with pytest.raises(UnsupportedError):
                    await storage.save(name, b"x", metadata={"k": "v"})
                assert not await storage.exists(name), "a refused save must store nothing"
        elif capability is Capability.CONTENT_TYPE:
            await storage.save(name, b"x", content_type="application/x-bucketry")
            content_type = (await storage.stat(name)).content_type
            assert (content_type == "application/x-bucketry") is declared
        elif capability is Capability.CONDITIONAL_CREATE:
            first = await storage.save(name, b"1")
            assert await storage.save(name, b"2") != first
            assert await storage.open(first) == b"1"
        elif capability is Capability.SERVER_SIDE_COPY:
            await storage.save(name, b"x")
            await storage.copy(name, root + "copy.txt")
            assert await storage.open(root + "copy.txt") == b"x"
        elif capability is Capability.PINNED_RESUME:
            await storage.save(name, b"pinned")
            if declared:  # the read remembers a version, and refuses another
                version = ReadVersion(name)
                pinned: Any = storage._stream
                assert b"".join([c async for c in pinned(name, 1, None, 2, version)])
                assert version.tag is not None, "the first read left no version tag to resume on"
                stale = ReadVersion(name, tag=version.tag + "-stale")
                with pytest.raises(IntegrityError):
                    _ = [c async for c in pinned(name, 1, None, 2, stale)]
            else:
                assert await _read(storage, name, start=1) == b"inned"
        else:  # pragma: no cover - a new capability must get a check here
            pytest.fail(f"No honesty check for capability {capability!r}.")

    @area("lifecycle")
    async def test_close_and_reuse(self, storage: Storage, root: str) -> None:
        name = await storage.save(root + "life.txt", b"alive")
        await storage.aclose()
        await storage.aclose()
        assert await storage.open(name) == b"alive"
        async with storage as same:
            assert same is storage
        assert await storage.exists(name)

    @area("lifecycle")
    async def test_every_operation_reconnects_after_close(
        self, storage: Storage, root: str
    ) -> None:
        """A storage opens its client on first use, and again after ``aclose``: whichever call
        comes first, it must not find the client closed."""
        name = await storage.save(root + "first.txt", b"first")
        first_calls: dict[str, Callable[[], Awaitable[object]]] = {
            "save": lambda: storage.save(root + "second.txt", b"2"),
            "save-overwrite": lambda: storage.save(name, b"first", overwrite=True),
            "open": lambda: storage.open(name),
            "stream": lambda: _drain(storage.stream(name)),
            "stat": lambda: storage.stat(name),
            "size": lambda: storage.size(name),
            "exists": lambda: storage.exists(name),
            "listdir": lambda: storage.listdir(root.rstrip("/")),
            "list": lambda: _drain(storage.list(root)),
            "copy": lambda: storage.copy(name, root + "copied.txt", overwrite=True),
            "move": lambda: storage.move(root + "copied.txt", root + "moved.txt"),
            "get_available_name": lambda: storage.get_available_name(name),
            "delete": lambda: storage.delete(root + "moved.txt"),
            "delete_prefix": lambda: storage.delete_prefix(root + "none/"),
        }
        for what, call in first_calls.items():
            await storage.aclose()
            try:
                await call()
            except Exception as exc:
                raise AssertionError(f"{what}() as the first call after aclose(): {exc!r}") from exc
        assert await storage.open(name) == b"first"

    @area("lifecycle")
    async def test_secrets_stay_out_of_repr(self, storage: Storage, root: str) -> None:
        shown = repr(storage)
        for option in storage.secret_options:
            value = getattr(storage, option, None)
            if isinstance(value, str) and value:
                assert value not in shown


async def _drain(items: object) -> None:
    async for _ in items:  # type: ignore[attr-defined]
        pass
