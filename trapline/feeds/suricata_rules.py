"""Suricata and Snort rule files read as indicators: one observable per IoC-style rule.

Blocklists are often published as IDS rules, one rule per indicator:

    # urlhaus-filter, one domain per rule
    alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"malicious website"; \
        http.method; content:"GET"; http.host; content:"evil.example"; sid:1; rev:1;)
    alert dns any any -> any any (msg:"bad name"; dns.query; dotprefix; \
        content:".evil.example"; endswith; sid:2;)          <- evil.example and subdomains
    alert ip $HOME_NET any -> [198.51.100.7,203.0.113.0/24] any (msg:"C2"; sid:3;)

A rule is read when it alerts on a single observable: an HTTP host (with an
optional URI: a URL), a DNS query name, a TLS SNI name, or literal addresses
in the source or destination of an otherwise unconditional rule. A rule that
needs anything more (a pcre, a payload content, two contents on one buffer,
a negation, flowbits checks, a literal address *and* a content) is skipped
and counted as ``rule without a single IoC``; so are ``pass`` rules. Malformed
rules and lines over 64 KB are counted too, never fatal.

Contents are decoded as Suricata writes them (``|2e 41|`` hex bytes, ``\\"``,
``\\;``, ``\\\\``). Sticky buffers (``http.host; content:...``), the older content
modifiers (``content:...; http_host;``, ``uricontent``) and Snort 3 sticky
buffers (``http_header:field host; content:"X",nocase;``) are all understood.
Each record's context holds the rule's ``msg``, ``sid`` and ``classtype``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig
from trapline.feeds.report import FeedReport
from trapline.index.records import IndicatorRecord
from trapline.indicators import Kind

MAX_LINE = 64 * 1024
NO_IOC = "rule without a single IoC"
MALFORMED = "malformed rule"
TOO_LONG = "rule line over 64 KB"
PASS_RULE = "pass rule (an exception, not an IoC)"

ACTIONS = frozenset({"alert", "drop", "reject", "rejectsrc", "rejectdst", "rejectboth", "sdrop"})
DIRECTIONS = frozenset({"->", "<>", "=>"})
CONTEXT_KEYS = ("msg", "sid", "classtype")

HOST, URI, METHOD, DNS, SNI = "host", "uri", "method", "dns", "sni"
STICKY = {"http.host": HOST, "http.uri": URI, "http.method": METHOD, "dns.query": DNS,
          "dns_query": DNS, "tls.sni": SNI, "tls_sni": SNI}
# Suricata (legacy) and Snort 2: a modifier of the content before; Snort 3: a sticky buffer.
MODIFIER_OR_STICKY = {"http_host": HOST, "http_uri": URI, "http_method": METHOD}
# Options that do not narrow what a rule alerts on (or only in ways a lookup ignores).
IGNORED = frozenset({"msg", "sid", "rev", "gid", "classtype", "priority", "reference",
                     "metadata", "flow", "threshold", "detection_filter", "target", "tag",
                     "app-layer-protocol", "service", "nocase", "fast_pattern", "rawbytes",
                     "distance", "within", "to_lowercase"})
SHAPES = ({HOST}, {HOST, URI}, {DNS}, {SNI})  # the observables a rule may name

_OPTION = re.compile(r'(?:[^;"\\]++|\\.|"(?:[^"\\]++|\\.)*+")++', re.S)
_OPTIONS = re.compile(r'(?:[^;"\\]++|\\.|"(?:[^"\\]++|\\.)*+"|;)*+', re.S)
_CONTENT = re.compile(r'(!?)\s*"((?:[^"\\]|\\.)*)"\s*(?:,(.*))?', re.S)
_CONTENT_PART = re.compile(r"\\(.)|\|([^|]*)\||([^\\|]+)|(.)", re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)
_HEADER = re.compile(r"!?\[[^\[\]]*\]|\S+")
_END_OF_DATA = re.compile(r"^!1\s*,\s*relative$")
_NUMBER = re.compile(r"^\d{1,9}$")


class _NotAnIoc(Exception):
    """The rule needs more than one observable: it is not an IoC rule."""


@dataclass
class _Content:
    """One ``content`` option: its decoded text, buffer and anchors."""

    value: str
    buffer: str | None  # None: the packet payload (no buffer named)
    negated: bool = False
    starts: bool = False  # anchored at the start of the buffer
    ends: bool = False    # anchored at its end
    offset: bool = False  # an offset other than 0
    dotprefix: bool = False


@dataclass
class _Options:
    """What a rule's options say: its contents and its context."""

    contents: list[_Content] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)
    buffer: str | None = None
    dotprefix: set[str | None] = field(default_factory=set)


def read_suricata_rules(path: Path, feed: FeedConfig,
                        report: FeedReport) -> Iterator[IndicatorRecord]:
    """Stream the records of a Suricata or Snort rule file (see the module docstring)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for rule in _rules(handle, report):
                yield from _read_rule(rule, feed, report)
    except OSError as exc:
        raise FeedParseError(f"{path.name}: cannot read: {exc}") from exc


def _read_rule(rule: str, feed: FeedConfig, report: FeedReport) -> Iterator[IndicatorRecord]:
    try:
        found = _rule_indicators(rule)
    except _NotAnIoc:
        report.skip(NO_IOC, rule)
        return
    except ValueError:
        report.skip(MALFORMED, rule)
        return
    if found is None:
        report.skip(PASS_RULE, rule)
        return
    values, context = found
    for value, kind in values:
        yield IndicatorRecord(value=value, kind=kind, feed=feed.name, category=feed.category,
                              context=dict(context), allow=feed.allow)


def _rule_indicators(rule: str) -> tuple[list[tuple[str, str | None]], dict[str, str]] | None:
    """``([(value, kind), ...], context)`` of one rule; None for a ``pass`` rule.

    Raises ``_NotAnIoc`` for a rule that is not about a single observable and
    ValueError for a malformed one.
    """
    head, paren, rest = rule.partition("(")
    rest = rest.rstrip()
    if not paren or not rest.endswith(")"):
        raise ValueError("no '(options)'")
    header = _HEADER.findall(head)
    if len(header) not in (2, 7) or (len(header) == 7 and header[4] not in DIRECTIONS):
        raise ValueError("not a rule header")
    action = header[0].lower()
    if action == "pass":
        return None
    if action not in ACTIONS:
        raise ValueError(f"unknown action {header[0]!r}")
    options = _read_options(split_options(rest[:-1]))
    addresses = _addresses(header)
    if addresses:
        if options.contents:
            raise _NotAnIoc("addresses and contents")
        return [(a, Kind.CIDR.value) for a in addresses], options.context
    return _observable(options.contents), options.context


def split_options(text: str) -> list[tuple[str, str]]:
    """``(keyword, value)`` pairs of a rule's options, split on ``;`` outside quotes.

    Backslash escapes are kept in the values; ValueError on an unclosed quote.
    """
    if _OPTIONS.fullmatch(text) is None:
        raise ValueError("unclosed quote")
    options: list[tuple[str, str]] = []
    for option in _OPTION.findall(text):
        keyword, _, value = option.partition(":")
        keyword = keyword.strip()
        if keyword:
            options.append((keyword.lower(), value.strip()))
    return options


def decode_content(text: str) -> str:
    """The text a content value matches: ``|hex|`` bytes and backslash escapes decoded."""
    if "|" not in text and "\\" not in text:
        return text
    data = bytearray()
    for match in _CONTENT_PART.finditer(text):
        escaped, hexa, plain, stray = match.groups()
        if stray is not None:
            raise ValueError("an unclosed '|' or a trailing '\\'")
        if escaped is not None:
            data += escaped.encode()
        elif hexa is not None:
            data += bytes.fromhex(hexa)
        else:
            data += plain.encode()
    return data.decode("utf-8", "replace")


def _read_options(options: list[tuple[str, str]]) -> _Options:
    """The contents and context of a rule's options; _NotAnIoc at the first extra condition."""
    state = _Options()
    for keyword, value in options:
        if keyword in CONTEXT_KEYS:
            _context(state, keyword, value)
        if keyword in ("content", "uricontent"):
            _add_content(state, value, URI if keyword == "uricontent" else state.buffer)
        elif keyword in STICKY:
            state.buffer = STICKY[keyword]
        elif keyword == "http_header":
            state.buffer = HOST if value.lower().split() == ["field", "host"] else "header"
        elif keyword in MODIFIER_OR_STICKY:
            _modifier_or_sticky(state, MODIFIER_OR_STICKY[keyword])
        elif keyword == "dotprefix":
            state.dotprefix.add(state.buffer)
        elif keyword == "flowbits":
            if value.split(",")[0].strip().lower() not in ("set", "unset", "toggle"):
                raise _NotAnIoc("flowbits check")
        elif keyword in ("startswith", "endswith", "depth", "offset", "isdataat", "bsize"):
            _anchor(state, keyword, value)
        elif keyword not in IGNORED:
            raise _NotAnIoc(f"option {keyword}")
    return state


def _context(state: _Options, keyword: str, value: str) -> None:
    if keyword == "sid":  # urlhaus-filter writes "sid:N rev:1" without a ';'
        value = value.split()[0] if value.split() else ""
    elif value.startswith('"') and value.endswith('"') and len(value) > 1:
        value = _ESCAPE.sub(r"\1", value[1:-1]) if "\\" in value else value[1:-1]
    if value:
        state.context[keyword] = value


def _add_content(state: _Options, value: str, buffer: str | None) -> None:
    match = _CONTENT.fullmatch(value)
    if match is None:
        raise ValueError("content without a quoted value")
    negated, text, modifiers = match.groups()
    content = _Content(decode_content(text), buffer, negated=bool(negated),
                       dotprefix=buffer in state.dotprefix)
    state.contents.append(content)
    for modifier in (modifiers or "").split(","):  # Snort 3: content:"X",nocase,depth 5
        keyword, _, argument = modifier.strip().partition(" ")
        if keyword in ("startswith", "endswith", "depth", "offset", "isdataat", "bsize"):
            _anchor(state, keyword, argument.strip())
        elif keyword and keyword not in IGNORED:
            raise _NotAnIoc(f"content modifier {keyword}")


def _modifier_or_sticky(state: _Options, buffer: str) -> None:
    last = state.contents[-1] if state.contents else None
    if last is not None and last.buffer is None and state.buffer is None:
        last.buffer = buffer
    else:
        state.buffer = buffer


def _anchor(state: _Options, keyword: str, value: str) -> None:
    """Apply a position modifier to the last content (or fail if it adds a condition)."""
    if not state.contents:
        raise _NotAnIoc(f"{keyword} without a content")
    last = state.contents[-1]
    size = len(last.value.encode())  # depth and bsize count bytes
    if keyword == "startswith":
        last.starts = True
    elif keyword == "endswith":
        last.ends = True
    elif keyword == "offset":
        last.offset = value != "0"
    elif keyword == "depth":
        last.starts = last.starts or (_NUMBER.match(value) is not None and int(value) == size
                                      and not last.offset)
    elif keyword == "isdataat" and _END_OF_DATA.match(value):
        last.ends = True
    elif keyword == "bsize" and _NUMBER.match(value) and int(value) == size:
        last.starts = last.ends = True
    else:
        raise _NotAnIoc(f"{keyword}:{value}")


def _addresses(header: list[str]) -> list[str]:
    """The literal addresses of an IP rule (empty when both sides are open)."""
    if len(header) == 2:
        return []
    sides = [_side(header[2]), _side(header[5])]
    literal = [side for side in sides if side]
    if len(literal) > 1:
        raise _NotAnIoc("addresses on both sides")
    if literal and (header[3] != "any" or header[6] != "any"):
        raise _NotAnIoc("addresses with ports")
    return literal[0] if literal else []


def _side(text: str) -> list[str]:
    """The addresses of one side; empty for ``any`` or variables; _NotAnIoc otherwise."""
    if text == "any" or text.startswith("$"):
        return []
    items = text[1:-1].split(",") if text.startswith("[") and text.endswith("]") else [text]
    items = [item.strip() for item in items]
    if all(item == "any" or item.lstrip("!").startswith("$") for item in items):
        return []
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise _NotAnIoc(f"address {item!r}") from None
    return items


def _observable(contents: list[_Content]) -> list[tuple[str, str | None]]:
    """The one observable the contents name, as ``[(value, kind)]``."""
    named: dict[str, _Content] = {}
    for content in contents:
        if content.buffer == METHOD:
            continue
        if content.negated or content.buffer is None or content.buffer in named:
            raise _NotAnIoc("a payload, negated or second content")
        named[content.buffer] = content
    if set(named) not in SHAPES:
        raise _NotAnIoc("no observable")
    host = named.get(HOST) or named.get(DNS) or named[SNI]
    name, mask = _name(host)
    uri = named.get(URI)
    if uri is not None:
        return [_url(name, uri, mask)]
    if mask:
        return [(name, Kind.URL_MASK.value)]
    return [(name, None if HOST in named else Kind.DOMAIN.value)]


def _name(content: _Content) -> tuple[str, bool]:
    """A host name content as ``(name, is a mask)``: ``.evil.example`` is ``*.evil.example``.

    With ``dotprefix`` Suricata prepends a dot to the buffer, so ``.evil.example``
    matches the name itself and its subdomains: the domain ``evil.example``.
    """
    name = content.value.strip()
    if name.startswith(".") and content.dotprefix:
        return name[1:], False
    if name.startswith("."):
        return "*" + name, True
    return name, False


def _url(host: str, uri: _Content, host_mask: bool) -> tuple[str, str]:
    """``host/path`` (url), or a url-mask for a wildcard host or a prefix-only path."""
    path = uri.value if uri.value.startswith("/") else "/" + uri.value
    prefix = uri.starts and not uri.ends
    if not (prefix or host_mask):
        return host + path, Kind.URL.value
    before, question, query = path.partition("?")
    path = (before + question + query.replace("?", "%3F")).replace("*", "%2A")
    return host + path.replace("[", "%5B") + ("*" if prefix else ""), Kind.URL_MASK.value


def _rules(handle: TextIO, report: FeedReport) -> Iterator[str]:
    """Rule texts: blank and ``#`` comment lines left out, ``\\`` continuations joined."""
    pending: list[str] = []
    size = 0
    for line, too_long in _lines(handle):
        if too_long:
            report.skip(TOO_LONG, line[:100])
            pending, size = [], 0
            continue
        text = line.rstrip("\r\n")
        stripped = text.strip().lstrip("\ufeff")
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and not stripped:
            yield "".join(pending).strip()
            pending, size = [], 0
            continue
        continued = text.rstrip().endswith("\\")
        pending.append(text.rstrip()[:-1] if continued else text)
        size += len(text)
        if size > MAX_LINE:
            report.skip(TOO_LONG, "".join(pending)[:100])
            pending, size = [], 0
        elif not continued:
            yield "".join(pending).strip().lstrip("\ufeff")
            pending, size = [], 0
    if pending:
        yield "".join(pending).strip()


def _lines(handle: TextIO) -> Iterator[tuple[str, bool]]:
    """``(line, too long)``: a line over MAX_LINE is cut, the rest of it read and dropped."""
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) <= MAX_LINE or line.endswith("\n"):
            yield line, False
            continue
        head = line
        while line and not line.endswith("\n"):
            line = handle.readline(MAX_LINE + 1)
        yield head, True
