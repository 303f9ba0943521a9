"""STIX 2.1 bundles: indicators whose patterns name single observables, read as a stream.

    {"type": "bundle", "id": "bundle--5d0092c5-...", "objects": [
      {"type": "indicator", "id": "indicator--8e2e2d2b-...", "name": "C2 of X",
       "pattern_type": "stix", "valid_from": "2024-05-01T00:00:00Z",
       "pattern": "[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'evil.example']"},
      {"type": "malware", "id": "malware--31b940d4-...", "name": "X", "is_family": true},
      {"type": "relationship", "relationship_type": "indicates",
       "source_ref": "indicator--8e2e2d2b-...", "target_ref": "malware--31b940d4-..."}]}

    >>> [(r.kind, r.value, r.context["related"]) for r in read_stix(path, feed, report)]
    [('ipv4', '198.51.100.7', ['X']), ('domain', 'evil.example', ['X'])]

Each comparison of an ``OR`` (inside an observation or between observations) that
names a supported observable becomes one record; ``IN`` gives one record per value,
``LIKE`` on a URL or domain a URL mask, ``ISSUBSET`` on an address a CIDR. What a
single observable cannot match (``AND``, ``FOLLOWEDBY``, qualifiers) skips the whole
indicator; unsupported comparisons inside an ``OR`` are skipped one by one. Every
skip is counted in the FeedReport with its reason (docs/feeds.md).

The file is read twice, never held whole: pass 1 walks the JSON events and keeps
only the names of named objects and the indicators' relationships; pass 2 streams
the objects and turns each ``indicator`` into records. Patterns are parsed with
stix2-patterns.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import ijson
from antlr4 import ParserRuleContext
from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser as P
from stix2patterns.v21.grammars.STIXPatternVisitor import STIXPatternVisitor
from stix2patterns.v21.pattern import Pattern

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig
from trapline.feeds.report import FeedReport
from trapline.feeds.timestamps import parse_time
from trapline.index.records import IndicatorRecord
from trapline.indicators import Kind
from trapline.indicators.masks import from_like

MAX_DEPTH = 100             # JSON nesting; real STIX objects stay under 10
MAX_PATTERN = 200_000       # characters; longer patterns are skipped (parse time)
MAX_NAME = 200
MAX_DESCRIPTION = 500
MAX_ITEMS = 20              # kept of labels, indicator_types, kill_chain, related
MAX_ITEM = 100

# Objects whose names become the ``related`` context of the indicators they relate to.
NAMED_TYPES = frozenset({
    "attack-pattern", "campaign", "identity", "infrastructure", "intrusion-set", "location",
    "malware", "threat-actor", "tool", "vulnerability",
})
LINK_TYPES = frozenset({"indicates", "related-to"})  # relationship types read

AND = "AND pattern: needs all observables at once"
FOLLOWEDBY = "FOLLOWEDBY pattern: needs a sequence of observations"
UNPARSEABLE = "unparseable pattern"
MATCHES = "MATCHES (regex) not supported"
NOT_A_STRING = "comparison value is not a string"

_VALUE_KINDS = {
    "ipv4-addr": Kind.IPV4.value,
    "ipv6-addr": Kind.IPV6.value,
    "domain-name": Kind.DOMAIN.value,
    "url": Kind.URL.value,
    "email-addr": Kind.EMAIL.value,
}
_HASH_KINDS = {"MD5": Kind.MD5.value, "SHA1": Kind.SHA1.value, "SHA256": Kind.SHA256.value}
_IP_KINDS = (Kind.IPV4.value, Kind.IPV6.value)
_LIKE_KINDS = (Kind.URL.value, Kind.DOMAIN.value)
_QUALIFIERS = {
    P.ObservationExpressionWithinContext: "WITHIN",
    P.ObservationExpressionRepeatedContext: "REPEATS",
    P.ObservationExpressionStartStopContext: "START/STOP",
}
_ESCAPE = re.compile(r"\\(['\\])")
_WS = "[ \t\r\n]*"
_COMPARISON = re.compile(
    rf"{_WS}([a-z][a-z0-9-]*):(value|hashes\.(?:'[A-Za-z0-9_-]+'|[A-Za-z_][A-Za-z0-9_]*))"
    rf"{_WS}={_WS}'((?:[^'\\]|\\['\\])*)'")
_JOINT = re.compile(rf"(?:[ \t\r\n]+(OR)[ \t\r\n]+|{_WS}\])")
_SUMMARY_KEYS = frozenset({"type", "id", "name", "relationship_type", "source_ref",
                           "target_ref"})
_JSON_ERRORS = (ijson.JSONError, ValueError, UnicodeDecodeError, RecursionError)


# -- patterns ----------------------------------------------------------------------------------


class Observable(NamedTuple):
    """One value a pattern names, with the kind trapline reads it as."""

    kind: str
    value: str


class PatternReading(NamedTuple):
    """What a pattern gives: observables, per-comparison skip reasons, or a refusal."""

    observables: list[Observable]
    skipped: list[str]          # one reason per unsupported comparison
    refused: str | None = None  # why the whole pattern cannot be matched, if it cannot


class _Refused(Exception):
    """The whole pattern cannot be matched as single observables."""


class _Root(STIXPatternVisitor):
    """Returns the parse tree's root, which the iterative walk below reads."""

    def visitPattern(self, ctx: P.PatternContext) -> P.PatternContext:
        return ctx


def read_pattern(pattern: str) -> PatternReading:
    """The observables of a STIX pattern; never raises.

        read_pattern("[url:value = 'http://evil.example/a' OR x509-certificate:issuer = 'X']")
        -> observables [Observable('url', 'http://evil.example/a')],
           skipped ['unsupported comparison x509-certificate:issuer'], refused None
    """
    if len(pattern) > MAX_PATTERN:
        return PatternReading([], [], f"pattern longer than {MAX_PATTERN} characters")
    return _simple_reading(pattern) or parsed_reading(pattern)


def _simple_reading(pattern: str) -> PatternReading | None:
    """The reading of ``[c OR c ...]`` whose every ``c`` is a plain comparison, else None.

    A plain comparison is ``type:value = '...'`` or ``file:hashes.X = '...'`` naming a
    supported observable. Nearly every indicator of a real feed has this shape, and
    the antlr parser costs 0.3-0.5 ms a pattern (2,000-3,000 indicators/s); this
    exact subset of the grammar reads the same (tests/feeds/test_stix.py checks it
    against the parser) at a small fraction of that. Anything else, down to a
    ``==``, goes to the parser.
    """
    if not pattern.startswith("["):
        return None
    observables = []
    position = 1
    while True:
        match = _COMPARISON.match(pattern, position)
        if match is None:
            return None
        object_type, property_path, literal = match.groups()
        path = ["value"] if property_path == "value" else [
            "hashes", _unquote(key) if (key := property_path[7:]).startswith("'") else key]
        kind = _kind_of(object_type, path)
        if kind is None:
            return None
        observables.append(_observable(kind, _ESCAPE.sub(r"\1", literal)))
        position = match.end()
        joint = _JOINT.match(pattern, position)
        if joint is None:
            return None
        if joint.group(1) is None:  # the closing bracket
            return PatternReading(observables, []) if joint.end() == len(pattern) else None
        position = joint.end()


def parsed_reading(pattern: str) -> PatternReading:
    """The reading of any pattern through stix2-patterns' parser; never raises."""
    try:
        root = Pattern(pattern).visit(_Root())
    except Exception:  # ParseException, or antlr failing on hostile input (RecursionError)
        return PatternReading([], [], UNPARSEABLE)
    reading = PatternReading([], [])
    try:
        for comparison in _comparisons(root):
            _read_comparison(comparison, reading)
    except _Refused as exc:
        return PatternReading([], [], str(exc))
    return reading


def _comparisons(root: ParserRuleContext) -> list[ParserRuleContext]:
    """The comparisons of a pattern in text order; _Refused if one needs another.

    Iterative: antlr builds left-deep trees, a thousand ``OR`` deep for long patterns.
    """
    found: list[ParserRuleContext] = []
    stack = [root]
    while stack:
        ctx = stack.pop()
        if isinstance(ctx, P.PropTestContext) and not isinstance(ctx, P.PropTestParenContext):
            found.append(ctx)
            continue
        if isinstance(ctx, P.ObservationExpressionsContext) and ctx.FOLLOWEDBY():
            raise _Refused(FOLLOWEDBY)
        if isinstance(ctx, P.ObservationExpressionAndContext | P.ComparisonExpressionAndContext) \
                and ctx.AND():
            raise _Refused(AND)
        qualifier = _QUALIFIERS.get(type(ctx))
        if qualifier is not None:
            raise _Refused(f"{qualifier} qualifier: needs observations over time")
        stack.extend(reversed([c for c in ctx.getChildren() if isinstance(c, ParserRuleContext)]))
    return found


def _read_comparison(ctx: Any, reading: PatternReading) -> None:
    """Add one comparison's observables, or its skip reason, to ``reading``."""
    path_ctx = ctx.objectPath()
    where = path_ctx.getText()[:100]
    kind = _kind_of(path_ctx.objectType().getText(), _path(path_ctx))
    if kind is None:
        reading.skipped.append(f"unsupported comparison {where}")
        return
    operator = _operator(ctx)
    if operator in ("=", "IN"):
        literals = [ctx.primitiveLiteral()] if operator == "=" else \
            ctx.setLiteral().primitiveLiteral()
        for literal in literals:
            value = _string_of(literal)
            if value is None:
                reading.skipped.append(NOT_A_STRING)
            else:
                reading.observables.append(_observable(kind, value))
    elif operator == "LIKE" and kind in _LIKE_KINDS:
        reading.observables.append(_like(kind, _unquote(ctx.StringLiteral().getText())))
    elif operator == "ISSUBSET" and kind in _IP_KINDS:
        reading.observables.append(Observable(Kind.CIDR.value,
                                              _unquote(ctx.StringLiteral().getText())))
    elif operator in ("LIKE", "ISSUBSET"):
        reading.skipped.append(f"{operator} on {where} not supported")
    elif operator == "MATCHES":
        reading.skipped.append(MATCHES)
    else:
        reading.skipped.append(f"operator {operator} not supported")


def _kind_of(object_type: str, path: list[str]) -> str | None:
    """The kind of a supported object path (``ipv4-addr:value``, ``file:hashes.MD5``)."""
    if path == ["value"]:
        return _VALUE_KINDS.get(object_type)
    if object_type == "file" and len(path) == 2 and path[0] == "hashes":
        return _HASH_KINDS.get(path[1].upper().replace("-", "").replace("_", ""))
    return None


def _path(ctx: Any) -> list[str]:
    """The steps of an object path after the type: ``['hashes', 'SHA-256']``, ``[*]`` kept."""
    first = ctx.firstPathComponent()
    literal = first.StringLiteral()
    steps = [_unquote(literal.getText()) if literal else first.getText()]
    stack = [ctx.objectPathComponent()] if ctx.objectPathComponent() else []
    while stack:
        step = stack.pop()
        if isinstance(step, P.PathStepContext):
            stack.extend(reversed(step.objectPathComponent()))
        elif isinstance(step, P.KeyPathStepContext):
            literal = step.StringLiteral()
            steps.append(_unquote(literal.getText()) if literal else
                         step.IdentifierWithoutHyphen().getText())
        else:
            steps.append(step.getText())  # an index step: [0], [*]
    return steps


def _operator(ctx: Any) -> str:
    """The comparison operator: ``=``, ``IN``, ``NOT LIKE``, ``>=``...

    ``==`` reads as ``=`` and ``<>`` as ``!=`` (the grammar allows both spellings).
    """
    if isinstance(ctx, P.PropTestEqualContext):
        name = "=" if ctx.EQ() else "!="
    elif isinstance(ctx, P.PropTestOrderContext):
        name = (ctx.GT() or ctx.LT() or ctx.GE() or ctx.LE()).getText()
    else:
        name = {P.PropTestSetContext: "IN", P.PropTestLikeContext: "LIKE",
                P.PropTestRegexContext: "MATCHES", P.PropTestIsSubsetContext: "ISSUBSET",
                P.PropTestIsSupersetContext: "ISSUPERSET",
                P.PropTestExistsContext: "EXISTS"}.get(type(ctx), "?")
    return f"NOT {name}" if ctx.NOT() else name


def _string_of(literal: Any) -> str | None:
    """The text of a string literal (``primitiveLiteral``), None for numbers and others."""
    orderable = literal.orderableLiteral()
    token = orderable.StringLiteral() if orderable is not None else None
    return _unquote(token.getText()) if token is not None else None


def _unquote(text: str) -> str:
    """A STIX string literal without its quotes and escapes (``\\'`` and ``\\\\``)."""
    return _ESCAPE.sub(r"\1", text[1:-1])


def _observable(kind: str, value: str) -> Observable:
    if kind in _IP_KINDS and "/" in value:
        return Observable(Kind.CIDR.value, value)
    return Observable(kind, value)


def _like(kind: str, pattern: str) -> Observable:
    """A URL mask of a ``LIKE`` pattern; the value itself when it has no wildcard."""
    literal = _like_literal(pattern)
    if literal is not None:
        return Observable(kind, literal)
    return Observable(Kind.URL_MASK.value, from_like(pattern))


def _like_literal(pattern: str) -> str | None:
    """The text a wildcard-free ``LIKE`` pattern matches, or None if it has a wildcard."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char in "%_":
            return None
        out.append(next(chars, "\\") if char == "\\" else char)
    return "".join(out)


# -- objects -----------------------------------------------------------------------------------


class Links:
    """Pass 1: the names of named objects and the objects each indicator relates to."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}           # object id -> name
        self.targets: dict[str, list[str]] = {}   # indicator id -> related object ids

    def add(self, obj: Mapping[str, Any]) -> None:
        """Note what matters of one object (a dict or pass 1's summary of one)."""
        kind, link = obj.get("type"), obj.get("relationship_type")
        if not isinstance(kind, str):
            return
        if kind in NAMED_TYPES:
            stix_id, name = obj.get("id"), _clean(obj.get("name"), MAX_NAME)
            if isinstance(stix_id, str) and name:
                self.names[sys.intern(stix_id)] = name
        elif kind == "relationship" and isinstance(link, str) and link in LINK_TYPES:
            source, target = obj.get("source_ref"), obj.get("target_ref")
            if not (isinstance(source, str) and isinstance(target, str)):
                return
            if source.startswith("indicator--"):
                self.targets.setdefault(source, []).append(sys.intern(target))
            elif target.startswith("indicator--") and link == "related-to":
                self.targets.setdefault(target, []).append(sys.intern(source))

    def related(self, indicator_id: str) -> list[str]:
        """Names of the objects an indicator relates to, in bundle order, once each."""
        names = (self.names.get(target) for target in self.targets.get(indicator_id, ()))
        return list(dict.fromkeys(name for name in names if name))[:MAX_ITEMS]


def read_stix(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[IndicatorRecord]:
    """Stream the records of a STIX 2.x bundle file; FeedParseError if it is not one."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            links = _scan(handle, path)
        with open(path, "rb") as handle:
            objects = _guarded(ijson.items(handle, "objects.item"), path)
            yield from _records(objects, feed, report, links)
    except OSError as exc:
        raise FeedParseError(f"{path.name}: cannot read: {exc}") from exc


def parse_stix_objects(objects: Iterable[Any], feed: FeedConfig,
                       report: FeedReport) -> Iterator[IndicatorRecord]:
    """Records of STIX objects already in memory (a bundle's ``objects``, a TAXII page)."""
    objects = objects if isinstance(objects, Sequence) else list(objects)
    links = Links()
    for obj in objects:
        if isinstance(obj, dict):
            links.add(obj)
    yield from _records(objects, feed, report, links)


def _scan(handle: Any, path: Path) -> Links:
    """Pass 1 over JSON events: check the bundle's shape, collect its Links.

    Works on events, never building objects, and refuses nesting deeper than MAX_DEPTH
    (prefixed events and object building both cost the square of the depth).
    """
    links = Links()
    depth, top_key, object_key, bundle_type = 0, None, None, None
    summary: dict[str, Any] | None = None  # of the object being read, if it is a JSON object
    try:
        for event, value in ijson.basic_parse(handle):
            if event == "map_key":
                if depth == 1:
                    top_key = value
                elif depth == 3:
                    object_key = value
            elif event in ("start_map", "start_array"):
                _check_container(path, depth, top_key, event)
                if depth == 2 and top_key == "objects":
                    summary = {} if event == "start_map" else None
                depth += 1
                if depth > MAX_DEPTH:
                    raise FeedParseError(f"{path.name}: JSON nested deeper than {MAX_DEPTH}")
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 2 and summary is not None:
                    links.add(summary)
                    summary = None
            elif depth == 3 and summary is not None:
                if event == "string" and object_key in _SUMMARY_KEYS:
                    summary[object_key] = value
            elif depth == 1 and top_key == "type":
                bundle_type = value
            elif depth <= 1 and (depth == 0 or top_key == "objects"):
                _check_container(path, depth, top_key, event)
    except _JSON_ERRORS as exc:
        raise FeedParseError(f"{path.name}: not valid JSON: {_json_error(exc)}") from exc
    if bundle_type != "bundle":
        shown = repr(bundle_type)[:40]
        raise FeedParseError(f"{path.name}: not a STIX bundle (its type is {shown}, not 'bundle')")
    return links


def _check_container(path: Path, depth: int, top_key: str | None, event: str) -> None:
    """The top level must be a JSON object and its ``objects`` a list."""
    if depth == 0 and event != "start_map":
        raise FeedParseError(f"{path.name}: not a STIX bundle (not a JSON object)")
    if depth == 1 and top_key == "objects" and event != "start_array":
        raise FeedParseError(f"{path.name}: not a STIX bundle ('objects' is not a list)")


def _guarded(items: Iterator[Any], path: Path) -> Iterator[Any]:
    """``items`` with JSON errors raised as FeedParseError naming the file."""
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except _JSON_ERRORS as exc:
            raise FeedParseError(f"{path.name}: not valid JSON: {_json_error(exc)}") from exc
        yield item


def _json_error(exc: Exception) -> str:
    """The first line of an ijson message (yajl's are bytes, with a caret drawing)."""
    message = exc.args[0] if exc.args else exc
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message).strip().split("\n", 1)[0][:200] or type(exc).__name__


def _records(objects: Iterable[Any], feed: FeedConfig, report: FeedReport,
             links: Links) -> Iterator[IndicatorRecord]:
    """Pass 2: the records of every indicator among ``objects``."""
    for obj in objects:
        if not isinstance(obj, dict):
            report.skip("object is not a JSON object", _sample(obj))
        elif obj.get("type") == "indicator":
            yield from _indicator_records(obj, feed, report, links)


def _indicator_records(obj: dict[str, Any], feed: FeedConfig, report: FeedReport,
                       links: Links) -> Iterator[IndicatorRecord]:
    """One record per observable of one indicator's pattern; skips counted."""
    stix_id = _id(obj)
    pattern_type = obj.get("pattern_type", "stix")  # STIX 2.0 has no pattern_type
    pattern = obj.get("pattern")
    if obj.get("revoked") is True:
        report.skip("revoked indicator", stix_id)
        return
    if not isinstance(pattern_type, str) or pattern_type.lower() != "stix":
        report.skip(f"pattern_type {str(pattern_type)[:40]!r} not supported", stix_id)
        return
    if not isinstance(pattern, str):
        report.skip("indicator without a pattern string", stix_id)
        return
    reading = read_pattern(pattern)
    sample = f"{stix_id} {pattern}"
    if reading.refused is not None:
        report.skip(reading.refused, sample)
        return
    for reason in reading.skipped:
        report.skip(reason, sample)
    if not reading.observables:
        return
    context = indicator_context(obj, links)
    confidence = obj.get("confidence")
    for kind, value in reading.observables:
        yield IndicatorRecord(
            value=value,
            kind=kind,
            feed=feed.name,
            category=feed.category,
            context=context,
            first_seen=_timestamp(obj.get("valid_from")),
            valid_until=_timestamp(obj.get("valid_until")),
            confidence=confidence if isinstance(confidence, int)
            and not isinstance(confidence, bool) and 0 <= confidence <= 100 else None,
            allow=feed.allow,
        )


def indicator_context(obj: Mapping[str, Any], links: Links) -> dict[str, Any]:
    """The context of an indicator's records: short strings and lists of strings.

    Keys, each only when present: ``stix_id``, ``name``, ``description`` (at most
    500 characters), ``labels``, ``indicator_types``, ``kill_chain`` (phase names),
    ``related`` (names of the objects it indicates or is related to).
    """
    kill_chain = [phase.get("phase_name") for phase in _list(obj.get("kill_chain_phases"))
                  if isinstance(phase, dict)]
    stix_id = _id(obj)
    context: dict[str, Any] = {
        "stix_id": stix_id,
        "name": _clean(obj.get("name"), MAX_NAME),
        "description": _clean(obj.get("description"), MAX_DESCRIPTION),
        "labels": _strings(obj.get("labels")),
        "indicator_types": _strings(obj.get("indicator_types")),
        "kill_chain": _strings(kill_chain),
        "related": links.related(stix_id) if stix_id else [],
    }
    return {key: value for key, value in context.items() if value}


def _sample(value: Any) -> str:
    """A short sample of a value, without rendering a large one whole."""
    if isinstance(value, str):
        return repr(value[:80])
    return repr(value) if isinstance(value, bool | float | None) else type(value).__name__


def _id(obj: Mapping[str, Any]) -> str:
    stix_id = obj.get("id")
    return stix_id if isinstance(stix_id, str) else ""


def _timestamp(value: Any) -> float | None:
    """Unix seconds of an RFC 3339 timestamp (``t`` and ``z`` too); None if unreadable.

    STIX timestamps are strings: a number is not read as Unix seconds.
    """
    return parse_time(value.upper()) if isinstance(value, str) else None


def _clean(value: Any, limit: int) -> str:
    """A string on one line, whitespace runs collapsed, cut to ``limit`` characters."""
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _list(value: Any) -> list[Any]:
    return value[:1000] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    """The distinct non-empty strings of a list, cleaned, at most MAX_ITEMS."""
    cleaned = (_clean(item, MAX_ITEM) for item in _list(value))
    return list(dict.fromkeys(item for item in cleaned if item))[:MAX_ITEMS]
