"""The read interface every snapshot backend offers: a consistent view with ``get``."""

from __future__ import annotations

from typing import Protocol


class View(Protocol):
    """A consistent read view of one snapshot (an LMDB read transaction or a dict)."""

    def get(self, space: str, key: bytes) -> bytes | None:
        """The encoded entry stored under ``key`` in a key space, or None."""
        ...

    def items(self, space: str) -> list[tuple[bytes, bytes]]:
        """Every ``(key, entry)`` of a (small) key space, for in-process structures."""
        ...

    def keys(self, space: str) -> list[bytes]:
        """Every key of a key space, for in-process membership tests."""
        ...


class Backend(Protocol):
    """A snapshot's storage: opens read views, closes when the snapshot is retired."""

    meta_bytes: bytes

    def view(self) -> View:
        """A read view; cheap enough to take one per lookup or batch."""
        ...

    def close(self) -> None:
        """Release the storage (unmap the file)."""
        ...
