"""In-process snapshot storage: one dict per key space, private to the process.

Used for throwaway snapshots (``trapline lookup --feed``) and as the in-memory
side of the benchmark that chose LMDB (docs/performance.md).
"""

from __future__ import annotations

from trapline.index.build import SnapshotBuilder
from trapline.index.keys import SPACES


class MemoryBackend:
    """Entries kept as encoded bytes in dicts; ``view()`` is the backend itself."""

    def __init__(self, builder: SnapshotBuilder, meta_bytes: bytes) -> None:
        self.tables = {space: dict(builder.entries(space)) for space in SPACES}
        self.meta_bytes = meta_bytes

    def view(self) -> MemoryBackend:
        return self

    def get(self, space: str, key: bytes) -> bytes | None:
        return self.tables[space].get(key)

    def items(self, space: str) -> list[tuple[bytes, bytes]]:
        return list(self.tables[space].items())

    def keys(self, space: str) -> list[bytes]:
        return list(self.tables[space])

    def close(self) -> None:
        self.tables = {space: {} for space in SPACES}
