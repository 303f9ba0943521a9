"""MISP warning lists: known-good values, read as allow-list records.

    {"name": "List of RFC 1918 CIDR blocks", "type": "cidr", "version": 5,
     "description": "...", "matching_attributes": ["ip-src", "ip-dst"],
     "list": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}

reads as three records like ``IndicatorRecord(value="10.0.0.0/8", kind="cidr",
allow=True, context={"list": "List of RFC 1918 CIDR blocks", "list_type": "cidr"})``.
An observable matching an allow record never produces a detection.

The list ``type`` decides how entries read: ``cidr`` (addresses and networks),
``hostname`` (a name and its subdomains), ``string`` (exact values, their kind taken
from ``matching_attributes``), ``substring``; ``regex`` and unknown types are skipped
and counted. Lists can be big (top-1M domains): the file is streamed with ijson
twice, first for the header fields (MISP writes them after ``list``), then entries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig
from trapline.feeds.json_stream import json_events, json_items, open_json
from trapline.feeds.report import FeedReport
from trapline.index.records import SUBSTRING, IndicatorRecord

# matching_attributes -> the one class of value a string list holds
_HASH_TYPES = frozenset({
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512/224", "sha512/256",
    "sha3-224", "sha3-256", "sha3-384", "sha3-512", "ssdeep", "imphash", "impfuzzy",
    "tlsh", "authentihash", "pehash", "vhash", "cdhash", "telfhash",
})
_DOMAIN_TYPES = frozenset({"domain", "hostname", "hostname|port"})
_IP_TYPES = frozenset({"ip-src", "ip-dst", "ip-src|port", "ip-dst|port"})
_EITHER_TYPES = frozenset({"domain|ip", "url", "uri", "link"})  # hold names or addresses

_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_HASH_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_UNSUPPORTED_HEX = {56: "sha224", 96: "sha384", 128: "sha512"}
_SSDEEP = re.compile(r"^\d+:[^:\s]*:[^:\s]*$")  # "3::" is the ssdeep of an empty file

# An entry -> (value, kind, list_type), or a reason to skip it.
Reader = Callable[[str], "tuple[str, str | None, str] | str"]


class _Header:
    """The fields of a warning list besides its entries."""

    def __init__(self, default_name: str) -> None:
        self.name = default_name
        self.type: Any = "string"  # MISP reads a list without a type as a string list
        self.matching: list[str] = []


def read_warninglist(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[
        IndicatorRecord]:
    """Allow-list records of one MISP warning-list file (see the module docstring)."""
    path = Path(path)
    with open_json(path) as handle:
        header = _scan_header(handle, path)
        reader = entry_reader(header.type, header.matching)
        contexts: dict[str, dict[str, str]] = {}  # one shared dict per list_type
        for entry in json_items(handle, "list.item", path):
            if not isinstance(entry, str):
                report.skip("entry not a string", repr(entry))
                continue
            if not entry.strip():
                report.skip("empty entry")
                continue
            read = reader(entry)
            if isinstance(read, str):
                report.skip(read, entry)
                continue
            value, kind, list_type = read
            context = contexts.get(list_type)
            if context is None:
                context = contexts[list_type] = {"list": header.name, "list_type": list_type}
            yield IndicatorRecord(value=value, kind=kind, feed=feed.name,
                                  category=feed.category, context=context, allow=True)


def _scan_header(handle: IO[bytes], path: Path) -> _Header:
    """Pass 1: name, type and matching_attributes, wherever they are; the list must exist."""
    header = _Header(path.stem)
    has_list = False
    events = json_events(handle, path)
    first = next(events, None)
    if first is None or first[1] != "start_map":
        raise FeedParseError(f"{path.name}: a MISP warning list is a JSON object")
    for prefix, event, value in events:
        if prefix == "name" and event == "string" and value.strip():
            header.name = value
        elif prefix == "type" and event not in ("map_key", "end_map", "end_array"):
            header.type = value if event == "string" else None
        elif prefix == "matching_attributes" and event == "start_array":
            header.matching = []
        elif prefix == "matching_attributes.item" and event == "string":
            header.matching.append(value)
        elif prefix == "list" and event == "start_array":
            has_list = True
    if not has_list:
        raise FeedParseError(f"{path.name}: a MISP warning list needs a \"list\" array")
    return header


def entry_reader(list_type: Any, matching_attributes: list[str]) -> Reader:
    """How one entry of a list of this type reads (see the module docstring)."""
    if list_type == "cidr":
        return lambda entry: (entry, "cidr", "cidr")
    if list_type == "hostname":
        return lambda entry: (_subdomains_of(entry) or entry, "domain", "hostname")
    if list_type == "substring":
        return lambda entry: (entry.strip().lower(), SUBSTRING, "substring")
    if list_type == "string":
        return _string_reader(value_class(matching_attributes))
    reason = (f"unsupported list type {list_type[:40]}" if isinstance(list_type, str)
              else "list type not a string")
    return lambda entry: reason


def value_class(matching_attributes: list[str]) -> str:
    """``hash``, ``domain`` or ``ip`` when the attributes name one class only, else ``any``."""
    classes = set()
    for attribute in matching_attributes:
        name = attribute.removeprefix("filename|")
        if attribute in _EITHER_TYPES:
            continue
        if name in _HASH_TYPES:
            classes.add("hash")
        elif attribute in _DOMAIN_TYPES:
            classes.add("domain")
        elif attribute in _IP_TYPES:
            classes.add("ip")
        else:
            classes.add("any")
    return classes.pop() if len(classes) == 1 else "any"


def _string_reader(value_class: str) -> Reader:
    if value_class == "hash":
        return _hash_entry

    kind = {"domain": "domain", "ip": "cidr"}.get(value_class)

    def read(entry: str) -> tuple[str, str | None, str]:
        if value_class != "ip":
            name = _subdomains_of(entry)
            if name is not None:
                return name, "domain", "hostname"
        return entry, kind, "string"

    return read


def _hash_entry(entry: str) -> tuple[str, str | None, str] | str:
    """An MD5, SHA-1 or SHA-256 of a hash list, or why the entry is skipped."""
    text = entry.strip()
    if _HEX.match(text):
        kind = _HASH_BY_LENGTH.get(len(text))
        if kind is not None:
            return entry, kind, "string"
        unsupported = _UNSUPPORTED_HEX.get(len(text))
        if unsupported is not None:
            return f"value type not supported: {unsupported}"
    elif _SSDEEP.match(text):
        return "value type not supported: ssdeep"
    return "not an md5, sha1 or sha256 hash"


def _subdomains_of(entry: str) -> str | None:
    """``example.net`` for ``.example.net`` and ``*.example.net`` (its subdomains), else None."""
    text = entry.strip()
    for prefix in ("*.", "."):
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return None
