"""The memory backend: a complete, fast storage that lives in a dict, for tests and caches."""

from __future__ import annotations

from bucketry_memory.storage import MemoryStorage

__all__ = ["MemoryStorage"]
