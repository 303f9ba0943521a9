"""Plain lists: one indicator per line, its kind detected per line.

    # comment lines start with '#'
    evil.example
    198.51.100.7    12          <- text after the value is kept as context
    d41d8cd98f00b204e9800998ecf8427e;known bad  <- ';' or ',' may separate it too
    http://evil.example/x.php?*

A ``#`` at the start of a line or after whitespace starts a comment (a ``#``
inside a URL is part of it). Lines that are not indicators are counted by the
snapshot builder as rejected, never fatal.

Two blocklist dialects read as they are:

    0.0.0.0 evil.example            <- hosts file: the name, not the sinkhole address
    ! adblock comment
    ||evil.example/path^$all        <- adblock filter: evil.example/path
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig
from trapline.feeds.report import FeedReport
from trapline.index.records import IndicatorRecord
from trapline.indicators import InvalidIndicator, Kind, normalize

_COMMENT = re.compile(r"(?:^|\s)#")
_SEPARATOR = re.compile(r"[;,]")
_SINKHOLES = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1"})  # hosts-file blocklists
_ADBLOCK = re.compile(r"^\|\|([^\^$|]+)[\^|]?(?:\$.*)?$")


def split_line(line: str) -> tuple[str, str] | None:
    """``(value, context text)`` of one list line, or None for blank and comment lines."""
    match = _COMMENT.search(line)
    if match:
        line = line[: match.start()]
    line = line.strip().lstrip("\ufeff")
    if not line or line[0] == "!":  # "!" starts an adblock comment
        return None
    adblock = _ADBLOCK.match(line)
    if adblock:
        return adblock.group(1), ""
    token, _, rest = line.partition(" ") if "\t" not in line else _split_ws(line)
    token, rest = token.strip(), rest.strip()
    if token in _SINKHOLES and rest:
        token, _, rest = rest.partition(" ")
        token, rest = token.strip(), rest.strip()
    separator = _SEPARATOR.search(token)
    if separator:
        head = token[: separator.start()]
        try:
            kind = normalize(head).kind
        except InvalidIndicator:
            kind = None
        if kind is not None and kind not in (Kind.URL, Kind.URL_MASK):
            tail = token[separator.end() :]
            rest = f"{tail} {rest}".strip() if rest else tail.strip()
            token = head
    return token, rest


def _split_ws(line: str) -> tuple[str, str, str]:
    parts = line.split(None, 1)
    return parts[0], " ", parts[1] if len(parts) > 1 else ""


def parse_plain(lines: Iterable[str], *, feed: str = "", category: str = "",
                kind: str | None = None, allow: bool = False) -> Iterator[IndicatorRecord]:
    """Records of a plain list; ``context["comment"]`` holds text after the value."""
    for line in lines:
        parts = split_line(line)
        if parts is None:
            continue
        value, comment = parts
        context = {"comment": comment} if comment else {}
        yield IndicatorRecord(value=value, kind=kind, feed=feed, category=category,
                              context=context, allow=allow)


def read_plain(path: Path | str, *, feed: str | None = None,
               category: str = "") -> Iterator[IndicatorRecord]:
    """Stream the records of a plain-list file (UTF-8, invalid bytes replaced)."""
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        yield from parse_plain(handle, feed=feed if feed is not None else path.name,
                               category=category or path.stem)


def read_plain_feed(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[
        IndicatorRecord]:
    """A configured plain-list feed: its name, category, forced kind and allow flag."""
    del report  # a plain list skips nothing: every non-comment line is a candidate value
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            yield from parse_plain(handle, feed=feed.name, category=feed.category,
                                   kind=feed.kind, allow=feed.allow)
    except OSError as exc:
        raise FeedParseError(f"{path.name}: cannot read: {exc}") from exc
