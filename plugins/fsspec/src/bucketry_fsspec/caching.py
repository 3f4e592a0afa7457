"""A read cache that holds one block and lets large reads through untouched."""

from __future__ import annotations

from fsspec.caching import BaseCache, register_cache

__all__ = ["OneBlockCache"]


class OneBlockCache(BaseCache):  # type: ignore[misc]
    """Small reads (a Parquet footer, a CSV line) are served from one block fetched around
    them; a read of a block or more goes straight to a ranged request and is returned as it
    came, with nothing kept and nothing copied.

    fsspec's "readahead" keeps a second block beside the one being read and copies each read
    up to three times: reading 512 MiB in 8 MiB blocks peaked 94 MiB above the start with it,
    against the 64 MiB bound this bridge keeps.
    """

    name = "bucketry-block"

    def __init__(self, blocksize: int, fetcher: object, size: int) -> None:
        super().__init__(blocksize, fetcher, size)
        self._start = 0
        self._block = b""

    def _fetch(self, start: int | None, stop: int | None) -> bytes:
        start = 0 if start is None else start
        stop = self.size if stop is None else min(stop, self.size)
        if start >= stop:
            return b""
        held = self._start <= start and stop <= self._start + len(self._block)
        if not held:
            self._block = b""  # let the old block go before the next one arrives
            if stop - start >= self.blocksize:
                self.miss_count += 1
                data: bytes = self.fetcher(start, stop)
                return data
            self.miss_count += 1
            self._start = start
            self._block = self.fetcher(start, min(self.size, start + self.blocksize))
        else:
            self.hit_count += 1
        offset = start - self._start
        return self._block[offset : offset + stop - start]


register_cache(OneBlockCache, clobber=True)
