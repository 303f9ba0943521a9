"""Feed formats: which module reads which format, and recognising a file by its content.

    read_feed(Path("ipblocklist.csv"), feed, report)   # detects "csv", streams records

A feed's ``format`` is ``auto`` by default: a file is recognised by its first
bytes (JSON array: vendor JSON; JSON object: a STIX bundle, a MISP event or
manifest, or a MISP warning list; text: CSV with a header row, else a plain
list). A folder holding ``manifest.json`` is a MISP feed; any other folder is
read file by file, each recognised on its own.
"""

from __future__ import annotations

import csv
import importlib
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig
from trapline.feeds.report import FeedReport
from trapline.index.records import IndicatorRecord
from trapline.indicators import detect_kind

Reader = Callable[[Path, FeedConfig, FeedReport], Iterator[IndicatorRecord]]

READERS = {
    "vendor-json": "trapline.feeds.vendor_json:read_vendor_json",
    "stix": "trapline.feeds.stix:read_stix",
    "taxii": "trapline.feeds.stix:read_stix",  # a TAXII source is fetched into a bundle
    "misp": "trapline.feeds.misp:read_misp",
    "csv": "trapline.feeds.csv_feed:read_csv",
    "plain": "trapline.feeds.plain:read_plain_feed",
    "warninglist": "trapline.feeds.warninglist:read_warninglist",
    "openioc": "trapline.feeds.openioc:read_openioc",
    "suricata": "trapline.feeds.suricata_rules:read_suricata_rules",
}
HEAD_BYTES = 65536
_STIX = re.compile(rb'"type"\s*:\s*"bundle"')
_MISP = re.compile(rb'^\{\s*"(?:Event|response)"\s*:')
_MISP_ANYWHERE = re.compile(rb'"(?:Event|Attribute)"\s*:\s*[\[{]')
_MANIFEST = re.compile(rb'^\{\s*"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"\s*:')
_WARNINGLIST = re.compile(rb'"matching_attributes"\s*:|"list"\s*:\s*\[')
_COLUMN_NAME = re.compile(r"^[A-Za-z_][\w .\-]{0,63}$")
_RULE = re.compile(r"^(?:alert|drop|reject|rejectsrc|rejectdst|rejectboth|sdrop|pass)\s+"
                   r"[\w-]+\s", re.IGNORECASE)
_XML_COMMENT = re.compile(rb"<!--.*?(?:-->|$)", re.DOTALL)
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")  # the first element's tag
_HTML = re.compile(rb"^\s*<(?:!doctype\s+html|html|head|body)", re.IGNORECASE)


@cache
def reader_for(format: str) -> Reader:
    """The reader function of a format name (see READERS)."""
    try:
        module, _, name = READERS[format].partition(":")
    except KeyError:
        raise FeedParseError(f"unknown feed format {format!r}") from None
    reader: Reader = getattr(importlib.import_module(module), name)
    return reader


def read_feed(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[IndicatorRecord]:
    """Stream the records of a local feed file or folder in the feed's (or detected) format."""
    if path.is_dir() and not (path / "manifest.json").is_file():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        for file in files:
            yield from _read_file(file, feed, report)
        return
    yield from _read_file(path, feed, report)


def _read_file(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[IndicatorRecord]:
    format = feed.format if feed.format != "auto" else detect_format(path)
    report.notes.setdefault("format", format)
    yield from reader_for(format)(path, feed, report)


def detect_format(path: Path) -> str:
    """The format of a local file or folder, from its content; FeedParseError if unknown."""
    if path.is_dir():
        return "misp" if (path / "manifest.json").is_file() else "plain"
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise FeedParseError(f"{path.name}: cannot read: {exc}") from exc
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise FeedParseError(f"{path.name}: the file is empty")
    if b"\x00" in head:
        raise FeedParseError(f"{path.name}: binary data, not a feed")
    if _HTML.match(body):
        raise FeedParseError(f"{path.name}: an HTML page, not a feed")
    if body.startswith(b"<"):
        return _xml_format(body, path)
    if body.startswith(b"["):
        return "misp" if _MISP_ANYWHERE.search(body[:512]) else "vendor-json"
    if body.startswith(b"{"):
        return _json_object_format(body, path)
    if _is_rules(head):
        return "suricata"
    return "csv" if _has_csv_header(head) else "plain"


def _json_object_format(body: bytes, path: Path) -> str:
    if _MISP.match(body) or _MANIFEST.match(body):
        return "misp"
    if _STIX.search(body):
        return "stix"
    if _WARNINGLIST.search(body):
        return "warninglist"
    raise FeedParseError(f"{path.name}: a JSON object that is not a STIX bundle, a MISP event "
                         "or manifest, or a MISP warning list (set the feed's format)")


def _xml_format(body: bytes, path: Path) -> str:
    root = _XML_ROOT.search(_XML_COMMENT.sub(b"", body))
    if root is not None and root.group(2) in (b"ioc", b"OpenIOC"):
        return "openioc"
    name = root.group(0)[1:60].decode("utf-8", "replace") if root else "?"
    raise FeedParseError(f"{path.name}: XML whose root element <{name}> is not an OpenIOC "
                         "document (set the feed's format)")


def _first_data_line(head: bytes) -> str:
    for line in head.decode("utf-8", "replace").splitlines():
        stripped = line.strip().lstrip("\ufeff")
        if stripped and not stripped.startswith("#"):
            return stripped
    return ""


def _is_rules(head: bytes) -> bool:
    """True when the first non-comment line is a Suricata or Snort rule."""
    return _RULE.match(_first_data_line(head)) is not None


def _has_csv_header(head: bytes) -> bool:
    """True when the first data line is a delimited row naming columns, not values."""
    line = _first_data_line(head)
    if "," not in line:
        return False
    cells = next(csv.reader([line]), [])
    return len(cells) > 1 and all(_COLUMN_NAME.match(c.strip()) for c in cells) and not any(
        _indicator(c) for c in cells)



def _indicator(cell: str) -> bool:
    return detect_kind(cell) is not None
