"""OpenIOC 1.0 and 1.1 files: the IndicatorItems that a single observable can match.

    <ioc xmlns="http://schemas.mandiant.com/2010/ioc" id="ec3b97c8-5de7-444d-...">
      <short_description>Operation Windigo</short_description>
      <authored_by>David Westcott</authored_by>
      <definition>
        <Indicator operator="OR" id="712fd551-...">
          <IndicatorItem id="9b8cc3b6-..." condition="is">
            <Context document="FileItem" search="FileItem/Sha1sum" type="mir" />
            <Content type="string">7314eadbdf18da424c4d8510afcc9fe5fcb56b39</Content>
          </IndicatorItem>
          <IndicatorItem id="70c2e7c4-..." condition="contains">
            <Context document="Network" search="Network/DNS" type="mir" />
            <Content type="string">k2l8z1yeodm.info</Content>
          </IndicatorItem>

    >>> [(r.kind, r.value) for r in read_openioc(path, feed, report)]
    [('sha1', '7314eadbdf18da424c4d8510afcc9fe5fcb56b39'), ('domain', 'k2l8z1yeodm.info')]

each with ``context={"ioc": "Operation Windigo", "ioc_id": "ec3b97c8-...", "author":
"David Westcott", "search": "FileItem/Sha1sum"}`` (plus ``"condition": "contains"``
on the second). OpenIOC 1.0 (root ``ioc``), 1.1 (root ``OpenIOC``, its comments in
``parameters``) and documents without a namespace are read alike.

An item becomes a record when its search term names an observable (docs/feeds.md has
the table), its condition is ``is``, or ``contains`` with a whole value of that kind
(matched as equality: ``Network/URI contains evil.example`` reads as the domain), and
only ``OR`` indicators enclose it. Everything else is skipped and counted with its
reason: items under an ``AND``, negated items, other terms and conditions.

XML is parsed with defusedxml, twice (metadata and 1.1 comments first, then items),
dropping each element once read. A DTD, entity or external reference, malformed XML,
another root or a file over MAX_BYTES raises FeedParseError naming the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import ParseError, iterparse

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig, MiB
from trapline.feeds.report import FeedReport
from trapline.index.records import IndicatorRecord
from trapline.indicators import IP_KINDS, detect_kind

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

MAX_BYTES = 64 * MiB  # larger files are refused: real OpenIOC files are kilobytes
_CHUNK = MiB
NAMESPACES = frozenset({
    "http://schemas.mandiant.com/2010/ioc",      # OpenIOC 1.0
    "http://openioc.org/schemas/OpenIOC_1.1",    # OpenIOC 1.1
    "",                                          # no namespace
})
ROOTS = frozenset({"ioc", "OpenIOC"})
MAX_TEXT = 200      # characters kept of a description, an id, a search term
MAX_COMMENT = 500
_MAX_REASONS = 200  # distinct "unsupported ..." reasons kept apart (then "(others)")

_IP_STRING = "ip-string"  # Network/String: read only when the string is an IP address
# Search terms (lower case) -> the kind of their records.
TERMS: dict[str, str] = {
    "network/dns": "domain",
    "dnsentryitem/host": "domain",
    "dnsentryitem/recordname": "domain",
    "dnsentryitem/recorddata/host": "domain",
    "urlhistoryitem/hostname": "domain",
    "network/uri": "url",
    "urlhistoryitem/url": "url",
    "filedownloadhistoryitem/sourceurl": "url",
    "portitem/remoteip": "cidr",
    "processitem/portlist/portitem/remoteip": "cidr",
    "routeentryitem/destination": "cidr",
    "dnsentryitem/recorddata/ipv4address": "cidr",
    "email/receivedfromip": "cidr",
    "network/ip": "cidr",  # not a Mandiant term, but some generators write it
    "email/from": "email",
    "network/string": _IP_STRING,
}
# Any term ending so (FileItem/Md5sum, ServiceItem/serviceDLLmd5sum, TaskItem/sha1sum...).
HASH_SUFFIXES = (("md5sum", "md5"), ("sha1sum", "sha1"), ("sha256sum", "sha256"))
# What a "contains" item must hold, as a whole, to be read (the reason names it).
_WHOLE = {"domain": "domain", "url": "URL or host", "cidr": "IP address", "email": "email",
          "md5": "md5", "sha1": "sha1", "sha256": "sha256"}
_URL_PARTS = {"url": "url", "domain": "domain", "ipv4": "cidr", "ipv6": "cidr", "cidr": "cidr"}

AND_REASON = "AND indicator: needs all items at once"
_PARTS = frozenset({"Context", "Content", "Comment", "value"})  # kept until their holder ends
_HOLDERS = frozenset({"IndicatorItem", "param"})
_META = {"short_description": "ioc", "authored_by": "author"}
_META_PARENTS = frozenset({"ioc", "OpenIOC", "metadata"})


@dataclass
class _Meta:
    """What every record of the document shares, and the 1.1 comments by item id."""

    ioc: str = ""
    ioc_id: str = ""
    author: str = ""
    comments: dict[str, str] = field(default_factory=dict)

    def context(self) -> dict[str, str]:
        return {key: value for key, value in (("ioc", self.ioc), ("ioc_id", self.ioc_id),
                                              ("author", self.author)) if value}


# -- reading ------------------------------------------------------------------------------------


def read_openioc(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[IndicatorRecord]:
    """Records of one OpenIOC 1.0 or 1.1 file (see the module docstring)."""
    path = Path(path)
    data = _read_bytes(path)
    meta = _scan(data, path)
    blocks: list[str | None] = []  # per open Indicator: why its items cannot be read, or None
    for event, elem, name, _ in _tree_events(data, path):
        if name == "Indicator":
            if event == "start":
                blocks.append((blocks[-1] if blocks else None) or _operator_block(elem, report))
            else:
                blocks.pop()
        elif name == "IndicatorItem" and event == "end":
            record = _item_record(elem, blocks[-1] if blocks else None, meta, feed, report)
            if record is not None:
                yield record


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, read in chunks; FeedParseError past MAX_BYTES."""
    chunks: list[bytes] = []
    size = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FeedParseError(f"{path.name}: larger than {MAX_BYTES / MiB:g} MB, "
                                         "not read (OpenIOC files are small)")
                chunks.append(chunk)
    except OSError as exc:
        raise FeedParseError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    return b"".join(chunks)


def _scan(data: bytes, path: Path) -> _Meta:
    """Pass 1: the root's id, the metadata, the 1.1 comments; checks the whole file."""
    meta = _Meta()
    events = _tree_events(data, path)
    first = next(events, None)  # the root's start (malformed XML raises first)
    if first is None:
        raise FeedParseError(f"{path.name}: no XML element")
    meta.ioc_id = _line(first[1].get("id"), MAX_TEXT)
    for event, elem, name, parent in events:
        if event == "start":
            continue
        if name in _META and parent in _META_PARENTS:
            if not getattr(meta, _META[name]):
                setattr(meta, _META[name], _line(elem.text, MAX_TEXT))
        elif name == "param" and parent == "parameters":
            _scan_param(elem, meta)
    return meta


def _scan_param(param: Element, meta: _Meta) -> None:
    """A 1.1 ``<param ref-id="item id" name="comment"><value>...</value></param>``."""
    ref = param.get("ref-id") or ""
    if (param.get("name") or "").strip().lower() != "comment" or not ref:
        return
    value = next((child for child in param if _local_name(child.tag) == "value"), None)
    text = _line(value.text if value is not None else None, MAX_COMMENT)
    if text and ref not in meta.comments:
        meta.comments[ref] = text


# -- XML ------------------------------------------------------------------------------------------


def _tree_events(data: bytes, path: Path) -> Iterator[tuple[str, Element, str, str]]:
    """``(event, element, name, parent name)`` in document order, names local to the root's
    namespace ("" for other elements). An ended element leaves the tree once the caller
    has seen it, except the parts of an item or parameter, which leave with their holder.
    """
    stack: list[Element] = []
    names: list[str] = []
    namespace: str | None = None
    for event, elem in _xml_events(data, path):
        if event == "start":
            if namespace is None:
                namespace = _root_namespace(elem, path)
            name = _name(elem, namespace)
            yield event, elem, name, names[-1] if names else ""
            stack.append(elem)
            names.append(name)
            continue
        stack.pop()
        name = names.pop()
        parent = names[-1] if names else ""
        yield event, elem, name, parent
        if stack and not (name in _PARTS and parent in _HOLDERS):
            stack[-1].remove(elem)


def _xml_events(data: bytes, path: Path) -> Iterator[tuple[str, Element]]:
    """defusedxml's ``iterparse`` with no DTD allowed; every failure is FeedParseError."""
    try:
        yield from iterparse(io.BytesIO(data), ("start", "end"), forbid_dtd=True)
    except DTDForbidden:
        raise FeedParseError(f"{path.name}: XML with a DTD (<!DOCTYPE ...>) refused: DTDs, "
                             "entities and external references are never read") from None
    except EntitiesForbidden:
        raise FeedParseError(f"{path.name}: XML entity declaration refused") from None
    except ExternalReferenceForbidden:
        raise FeedParseError(f"{path.name}: XML external reference refused") from None
    except (ParseError, ValueError, LookupError) as exc:  # ValueError: bad encodings too
        detail = str(exc).strip().split("\n", 1)[0][:200] or type(exc).__name__
        raise FeedParseError(f"{path.name}: malformed XML: {detail}") from None


def _root_namespace(root: Element, path: Path) -> str:
    namespace, local = _split_tag(root.tag)
    if local not in ROOTS or namespace not in NAMESPACES:
        raise FeedParseError(f"{path.name}: not an OpenIOC document: the root element is "
                             f"{root.tag[:100]!r}, not ioc (1.0) or OpenIOC (1.1)")
    return namespace


def _split_tag(tag: str) -> tuple[str, str]:
    """``("namespace", "local")`` of an ElementTree tag ``{namespace}local``."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _name(elem: Element, namespace: str) -> str:
    """The element's local name if it is in the document's namespace, else ""."""
    element_namespace, local = _split_tag(elem.tag)
    return local if element_namespace == namespace else ""


def _local_name(tag: str) -> str:
    return _split_tag(tag)[1]


# -- items ----------------------------------------------------------------------------------------


def _operator_block(indicator: Element, report: FeedReport) -> str | None:
    """Why items of this Indicator cannot be read alone (None for ``OR``)."""
    operator = (indicator.get("operator") or "").strip().upper()
    if operator == "OR":
        return None
    if operator == "AND":
        return AND_REASON
    return _capped("unsupported indicator operator", repr(operator[:20]), report)


def _item_record(item: Element, block: str | None, meta: _Meta, feed: FeedConfig,
                 report: FeedReport) -> IndicatorRecord | None:
    """The record of one IndicatorItem, or None (skipped and counted)."""
    parts = {_local_name(child.tag): child for child in reversed(item)}  # the first of each
    context_part = parts.get("Context")
    search = _line(context_part.get("search") if context_part is not None else None, MAX_TEXT)
    content = (parts["Content"].text or "").strip() if "Content" in parts else ""
    condition = _line(item.get("condition"), 40).lower() or "is"
    negated = (item.get("negate") or "").strip().lower() in ("true", "1")
    if condition.endswith("not"):  # OpenIOC 1.0: isnot, containsnot
        condition, negated = condition[:-3], True
    kind, reason = _read_as(block, negated, search, condition, content, report)
    if kind is None:
        report.skip(reason, f"{search} {condition} {content}")
        return None
    context: dict[str, str] = {**meta.context(), "search": search}
    if condition != "is":
        context["condition"] = condition
    comment = _line(parts["Comment"].text, MAX_COMMENT) if "Comment" in parts else ""
    comment = comment or meta.comments.get(item.get("id") or "", "")
    if comment:
        context["comment"] = comment
    return IndicatorRecord(value=content, kind=kind, feed=feed.name, category=feed.category,
                           context=context, allow=feed.allow)


def _read_as(block: str | None, negated: bool, search: str, condition: str, content: str,
             report: FeedReport) -> tuple[str | None, str]:
    """``(kind, "")`` of the item's record, or ``(None, reason)`` to skip it."""
    if block:
        return None, block
    if negated:
        return None, "negated item"
    if not search:
        return None, "item without a search term"
    term = term_kind(search)
    if term is None:
        return None, _capped("unsupported search term", search[:60], report)
    if not content:
        return None, "item without content"
    if condition not in ("is", "contains"):
        return None, _capped("unsupported condition", condition, report)
    kind = _kind_of(term, condition, content)
    if kind is not None:
        return kind, ""
    if term == _IP_STRING:
        return None, "Network/String: not an IP address"
    return None, f"contains: not a whole {_WHOLE[term]}"


def term_kind(search: str) -> str | None:
    """The kind a search term's content is read as (``ip-string``: only an IP), or None."""
    term = search.strip().lower()
    kind = TERMS.get(term)
    if kind is not None:
        return kind
    return next((kind for suffix, kind in HASH_SUFFIXES if term.endswith(suffix)), None)


def _kind_of(term: str, condition: str, content: str) -> str | None:
    """The kind of an ``is`` or ``contains`` item's record, or None: not a whole value.

    ``is`` gives the term's kind (the snapshot builder checks the value), ``contains``
    only a whole value of it. An IP address under a domain term (a DNS answer, a host
    given as an address) reads as ``cidr``; so does ``Network/String``, only then. A URL
    term holding just a host under ``contains`` reads as that host: "the URI contains
    evil.example" is met by any URL on evil.example, which a domain record matches.
    """
    detected = detect_kind(content)
    if term in (_IP_STRING, "domain") and detected in IP_KINDS:
        return "cidr"
    if term == _IP_STRING:
        return None
    if condition == "is":
        return term
    if term == "url":
        return _URL_PARTS.get(detected or "")
    if term == "cidr":
        return "cidr" if detected in IP_KINDS else None
    return term if detected == term else None


def _capped(family: str, detail: str, report: FeedReport) -> str:
    """``family detail``, or ``family (others)`` once many distinct reasons were counted."""
    reason = f"{family} {detail}"
    if reason in report.skipped or len(report.skipped) < _MAX_REASONS:
        return reason
    return f"{family} (others)"


def _line(text: str | None, limit: int) -> str:
    """``text`` on one line, spaces collapsed, at most ``limit`` characters."""
    return " ".join((text or "").split())[:limit]
