"""STIX 2.1 bundle files written and merged as streams, for TAXII polls.

A TAXII poll writes the objects it receives, page by page, into a bundle file
(``{"type": "bundle", "id": "bundle--...", "objects": [...]}``, one object per
line) that trapline.feeds.stix reads like any STIX feed. An incremental poll
brings only what was added since the last one; ``merge_bundles`` combines the
bundle kept from the last update with the new objects: one object per STIX
``id``, the newest ``modified`` winning (on a tie, the later one), revoked
objects dropped. Only an ``id -> position`` index is held in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ijson
import msgspec

from trapline.errors import FeedFetchError
from trapline.feeds.report import FeedReport

__all__ = ["BundleWriter", "MergeStats", "iter_objects", "merge_bundles"]

_encode = msgspec.json.Encoder().encode


class BundleWriter:
    """Writes a STIX bundle one object at a time; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._out = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._out.write(b'{"type":"bundle","id":"bundle--%s","objects":['
                        % str(uuid.uuid4()).encode())

    def add(self, obj: dict[str, Any]) -> None:
        self._out.write(b"\n" if self.count == 0 else b",\n")
        self._out.write(_encode(obj))
        self.count += 1

    def close(self) -> None:
        if not self._out.closed:
            self._out.write(b"\n]}\n")
            self._out.close()

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_objects(path: Path) -> Iterator[Any]:
    """The items of a bundle's ``objects`` array, streamed (numbers as int or float)."""
    try:
        with open(path, "rb") as handle:
            yield from ijson.items(handle, "objects.item", use_float=True)
    except ijson.JSONError as exc:
        raise FeedFetchError(f"{path.name}: not a STIX bundle ({exc})") from None


def _timestamp(obj: dict[str, Any]) -> float:
    value = obj.get("modified") or obj.get("created")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return float("-inf")


@dataclass
class MergeStats:
    """What a merge wrote: objects kept, superseded versions, revoked ones dropped."""

    written: int = 0
    superseded: int = 0
    revoked: int = 0
    invalid: int = 0


def merge_bundles(previous: Path | None, new: Path, out: Path,
                  report: FeedReport | None = None) -> MergeStats:
    """Write to ``out`` the union of bundles ``previous`` (may be None) and ``new``.

    One version per STIX ``id``: the newest ``modified`` (else ``created``); a
    tie goes to the later object, so ``new`` wins over ``previous``. Objects
    whose winning version is revoked are dropped; items without an ``id``
    are counted in ``report`` and dropped.
    """
    sources = [p for p in (previous, new) if p is not None]
    best: dict[str, tuple[float, int]] = {}
    position = 0
    for path in sources:
        for obj in iter_objects(path):
            position += 1
            if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                key = (_timestamp(obj), position)
                if key >= best.get(obj["id"], key):
                    best[obj["id"]] = key
    stats = MergeStats()
    position = 0
    with BundleWriter(out) as writer:
        for path in sources:
            for obj in iter_objects(path):
                position += 1
                if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                    stats.invalid += 1
                    if report is not None:
                        report.skip("STIX object without an id", str(obj)[:200])
                elif best[obj["id"]][1] != position:
                    stats.superseded += 1
                elif obj.get("revoked") is True:
                    stats.revoked += 1
                else:
                    writer.add(obj)
        stats.written = writer.count
    return stats
