"""Streaming JSON for feed readers: ijson with a nesting guard and one error type.

ijson builds the prefix path of every event, so a file of deeply nested brackets
costs time quadratic in its depth: every reader here refuses a prefix longer than
MAX_PREFIX characters (far deeper than any real feed nests) with FeedParseError,
and reads in small buffers so that the refusal comes early.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import ijson

from trapline.errors import FeedParseError

BUF_SIZE = 16384  # bytes per ijson read: bounds the work done before the guard can act
MAX_PREFIX = 1000  # longest ijson prefix (nesting path) accepted: deeper is not MISP
_STARTS = frozenset({"start_map", "start_array"})


@contextmanager
def open_json(path: Path) -> Iterator[IO[bytes]]:
    """``path`` opened in binary for ijson; FeedParseError if it cannot be read."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the caller's block
    except OSError as exc:
        raise FeedParseError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    with handle:
        yield handle


def json_events(handle: IO[bytes], path: Path) -> Iterator[tuple[str, str, Any]]:
    """ijson ``(prefix, event, value)`` from the start; FeedParseError if malformed or too deep.

    The depth guard matters: ijson builds every event's prefix, so a file of deeply
    nested brackets would cost time quadratic in its size.
    """
    handle.seek(0)
    try:
        for prefix, event, value in ijson.parse(handle, buf_size=BUF_SIZE):
            if event in _STARTS and len(prefix) > MAX_PREFIX:
                raise FeedParseError(f"{path.name}: nested too deeply at {prefix[:80]}...")
            yield prefix, event, value
    except (ijson.JSONError, UnicodeDecodeError, OSError) as exc:
        raise FeedParseError(f"{path.name}: malformed JSON: {_first_line(exc)}") from exc


def json_items(handle: IO[bytes], prefix: str, path: Path) -> Iterator[Any]:
    """The values at ``prefix`` (ijson ``items``), from the start; FeedParseError if malformed.

    Call it after ``json_events`` has read the whole file: the depth guard is there.
    """
    handle.seek(0)
    try:
        yield from ijson.items(handle, prefix)
    except (ijson.JSONError, UnicodeDecodeError, OSError) as exc:
        raise FeedParseError(f"{path.name}: malformed JSON: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail).strip().split("\n", 1)[0][:200]


def guarded_items(handle: IO[bytes], prefix: str, path: Path) -> Iterator[Any]:
    """The values at ``prefix`` in one guarded pass (floats, not Decimals)."""
    handle.seek(0)
    try:
        yield from ijson.items(_guarded_parse(handle, path), prefix)
    except (ijson.JSONError, UnicodeDecodeError, OSError) as exc:
        raise FeedParseError(f"{path.name}: malformed JSON: {_first_line(exc)}") from exc


def _guarded_parse(handle: IO[bytes], path: Path) -> Iterator[tuple[str, str, Any]]:
    for prefix, event, value in ijson.parse(handle, use_float=True, buf_size=BUF_SIZE):
        if event in _STARTS and len(prefix) > MAX_PREFIX:
            raise FeedParseError(f"{path.name}: nested too deeply at {prefix[:80]}...")
        yield prefix, event, value
