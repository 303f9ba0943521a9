"""Vendor JSON feeds (CyberTrace style): a JSON array of records, read as a stream.

    [{"id": 107722881, "mask": "abid-sh84.github.io/netflixclone/*",
      "first_seen": "19.05.2024 08:32", "popularity": 1, "whois": {"country": "US"},
      "files": [{"MD5": "776735A8CA96DB15B422879DA599F474"}]}]

A field mapping names the fields that hold indicators, each with its kind (or
detected) and category (or the feed's): ``mask`` and ``files/MD5`` above; a ``/``
walks into nested objects and through lists. Field names are case-sensitive.
Everything else in a record becomes the context of its indicators, nested
objects flattened with dots (``whois.country``). ``first_seen``, ``last_seen``,
``valid_until`` and ``confidence`` fill the record's lifecycle fields instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig, FieldMap
from trapline.feeds.json_stream import guarded_items, open_json
from trapline.feeds.report import FeedReport
from trapline.feeds.timestamps import parse_time
from trapline.index.records import IndicatorRecord

# Fields read when a feed names none: the vendor's own field names.
DEFAULT_FIELDS: dict[str, FieldMap] = {
    name: FieldMap(kind=kind)
    for name, kind in (
        ("mask", None), ("url", None), ("domain", "domain"), ("ip", None),
        ("md5", "md5"), ("MD5", "md5"), ("sha1", "sha1"), ("SHA1", "sha1"),
        ("sha256", "sha256"), ("SHA256", "sha256"),
        ("files/MD5", "md5"), ("files/SHA1", "sha1"), ("files/SHA256", "sha256"),
    )
}
LIFECYCLE = ("first_seen", "last_seen", "valid_until", "confidence")
MAX_CONTEXT_KEYS = 64
MAX_TEXT = 1000
MAX_DEPTH = 8


def read_vendor_json(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[
        IndicatorRecord]:
    """Stream the records of a vendor JSON feed file (a top-level array)."""
    fields = feed.fields or DEFAULT_FIELDS
    paths = {name: name.split("/") for name in fields}
    tree = _tree(list(paths.values()))
    with open_json(path) as handle:
        _expect_array(handle, path)
        for item in guarded_items(handle, "item", path):
            yield from _records(item, feed, fields, paths, tree, report)


def _expect_array(handle: Any, path: Path) -> None:
    head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    handle.seek(0)
    if not head.startswith(b"["):
        raise FeedParseError(f"{path.name}: a vendor JSON feed is a JSON array of records")


def _records(item: Any, feed: FeedConfig, fields: dict[str, FieldMap],
             paths: dict[str, list[str]], tree: dict[str, Any],
             report: FeedReport) -> Iterator[IndicatorRecord]:
    if not isinstance(item, dict):
        report.skip("record is not a JSON object", repr(item)[:100])
        return
    found = [(name, value) for name, parts in paths.items() if parts[0] in item
             for value in _values(item, parts)]
    if not found:
        report.skip("record has none of the mapped fields", ", ".join(list(item)[:8]))
        return
    context = flatten(_without(item, tree))
    if feed.context_fields is not None:
        wanted = feed.context_fields
        context = {key: value for key, value in context.items()
                   if key in wanted or key.split(".", 1)[0] in wanted}
    first_seen = parse_time(item.get("first_seen"))
    last_seen = parse_time(item.get("last_seen"))
    valid_until = parse_time(item.get("valid_until"))
    confidence = item.get("confidence")
    if not isinstance(confidence, int | float) or isinstance(confidence, bool) or not (
            0 <= confidence <= 100):
        confidence = None
    for name, value in found:
        mapping = fields[name]
        yield IndicatorRecord(
            value=value,
            kind=mapping.kind,
            feed=feed.name,
            category=mapping.category or feed.category,
            context=context,
            first_seen=first_seen,
            last_seen=last_seen,
            valid_until=valid_until,
            confidence=None if confidence is None else int(confidence),
            allow=feed.allow,
        )


def _values(node: Any, parts: list[str]) -> Iterator[str]:
    """Every string (or number) at ``parts`` under ``node``, walking through lists."""
    if isinstance(node, list):
        for element in node[:10_000]:
            yield from _values(element, parts)
        return
    if not parts:
        if isinstance(node, str):
            if node.strip():
                yield node
        elif isinstance(node, int | float) and not isinstance(node, bool):
            yield str(node)
        return
    if isinstance(node, dict) and parts[0] in node:
        yield from _values(node[parts[0]], parts[1:])


def _tree(paths: list[list[str]]) -> dict[str, Any]:
    """Mapped paths as a tree of names; a leaf (None) is a mapped field, dropped from context.

    The lifecycle fields are dropped at the top level too: they have fields of their own.
    """
    tree: dict[str, Any] = dict.fromkeys(LIFECYCLE)
    for parts in paths:
        node = tree
        for part in parts[:-1]:
            child = node.get(part, {})
            if child is None:  # a whole field is mapped: nothing under it stays anyway
                break
            node = node.setdefault(part, child)
        else:
            node[parts[-1]] = None
    return tree


def _without(node: Any, tree: dict[str, Any]) -> Any:
    """A copy of ``node`` without the mapped fields of ``tree``."""
    if isinstance(node, list):
        return [_without(element, tree) for element in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in tree:
            deeper = tree[key]
            if deeper is None:
                continue
            value = _without(value, deeper)
        out[key] = value
    return out


def flatten(node: dict[str, Any]) -> dict[str, Any]:
    """Nested objects as dotted keys; lists of scalars kept; long text and depth capped.

    ``{"whois": {"country": "US"}, "files": [{"size": 1}, {"size": 2}]}``
    -> ``{"whois.country": "US", "files.size": [1, 2]}``
    """
    out: dict[str, Any] = {}
    _flatten_into(out, "", node, 0)
    return out


def _flatten_into(out: dict[str, Any], prefix: str, node: Any, depth: int) -> None:
    if len(out) >= MAX_CONTEXT_KEYS:
        return
    if isinstance(node, dict):
        if depth >= MAX_DEPTH:
            out[prefix] = "..."
            return
        for key, value in node.items():
            _flatten_into(out, f"{prefix}.{key}" if prefix else str(key), value, depth + 1)
    elif isinstance(node, list):
        scalars = [_scalar(v) for v in node if not isinstance(v, dict | list)]
        if scalars:
            out[prefix] = scalars[:100]
        for element in node[:100]:
            if isinstance(element, dict) and depth < MAX_DEPTH:
                part: dict[str, Any] = {}
                _flatten_into(part, prefix, element, depth + 1)
                for key, value in part.items():
                    existing = out.setdefault(key, [])
                    if isinstance(existing, list) and len(existing) < 100:
                        existing.append(value)
    elif prefix:
        out[prefix] = _scalar(node)


def _scalar(value: Any) -> Any:
    if type(value) is str:
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "..."
    if value is None or isinstance(value, int | float | bool):
        return value
    return str(value)[:MAX_TEXT]
