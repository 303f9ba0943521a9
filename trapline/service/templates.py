"""Detection, finished and alert lines, rendered from the vendor's placeholder templates.

    renderer = Renderer(templates_from_config({}))        # the integration guide's defaults
    renderer.detection(match, observable="http://evil.example/a")
    # 'Category=KL_Malicious_URL|MatchedIndicator=evil.example|first_seen=...|popularity=5'
    renderer.alert(Alert("KL_ALERT_UpdatedFeed", {"feed": "Phishing_URL_Data_Feed.json",
                                                  "records": "200473"}))
    # 'Apr 16 09:05:41 alert=KL_ALERT_UpdatedFeed feed=Phishing_URL_Data_Feed.json records=200473'

Each template is compiled once into a format string; an unknown placeholder is a
ConfigError at load time. Every value is escaped so that one line stays one line
(``escape_value``), and nested context is flattened into ``key.sub=value`` pairs
(``context_pairs``). docs/output.md describes every placeholder.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from trapline.alerts import Alert
from trapline.errors import ConfigError
from trapline.index.verdict import Match
from trapline.verdict_format import match_context

DETECTION = "Category=%Category%|MatchedIndicator=%MatchedIndicator%%RecordContext%"
CONTEXT_ITEM = "|%ParamName%=%ParamValue%"
ACTIONABLE_ITEM = "%ParamName%:%ParamValue%"
ALERT = "%Date% alert=%Alert%%RecordContext%"
ALERT_CONTEXT_ITEM = " %ParamName%=%ParamValue%"
FINISHED = "LookupFinished"

_PLACEHOLDER = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")
_ITEM = frozenset({"ParamName", "ParamValue"})
_DETECTION = frozenset({"Date", "Category", "MatchedIndicator", "RecordContext", "SourceId",
                        "IndicatorInfo", "ActionableFields", "Feed", "Observable", "REQ",
                        "EventId"})
_ALERT = frozenset({"Date", "Alert", "RecordContext", "SourceId", "EventId"})
_FINISHED = frozenset({"Date", "RecordContext", "SourceId", "REQ"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_DEPTH = 8
MAX_LIST = 100
#: Placeholders a detection line takes from the match and the observable only.
_PER_MATCH = frozenset({"Category", "MatchedIndicator", "RecordContext", "Observable", "Feed",
                        "IndicatorInfo"})


class Templates(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The line formats (protocol.md section 4); the defaults are the integration guide's."""

    detection: str = DETECTION
    context_item: str = CONTEXT_ITEM            # one per record context field
    actionable_item: str = ACTIONABLE_ITEM      # one per captured event value
    actionable_separator: str = ","             # between actionable items
    alert: str = ALERT
    alert_context_item: str = ALERT_CONTEXT_ITEM  # one per alert field
    finished: str = FINISHED
    date_utc: bool = False                      # %Date% in UTC instead of local time


def templates_from_config(table: Mapping[str, Any]) -> Templates:
    """``[output.templates]`` as Templates; ConfigError names a bad key or placeholder."""
    try:
        templates = msgspec.convert(dict(table), Templates, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"output.templates: {exc}") from exc
    Renderer(templates)  # compiles every template: unknown placeholders fail here
    return templates


class Template:
    """One template compiled to a ``str.format`` string; ``names`` are its placeholders."""

    __slots__ = ("fmt", "names", "source")

    def __init__(self, source: str, allowed: frozenset[str], setting: str, *,
                 captures: bool = False) -> None:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in source):
            raise ConfigError(f"output.templates.{setting}: control characters (such as a "
                              "newline) are not allowed: one detection is one line")
        parts: list[str] = []
        names: list[str] = []
        end = 0
        for found in _PLACEHOLDER.finditer(source):
            name = found.group(1)
            if name not in allowed and not (captures and name.startswith("RE_") and name[3:]):
                known = ", ".join(f"%{n}%" for n in sorted(allowed))
                extra = ", %RE_<rule>%" if captures else ""
                raise ConfigError(f"output.templates.{setting}: unknown placeholder %{name}% "
                                  f"(known: {known}{extra})")
            parts.append(_literal(source[end:found.start()]))
            parts.append("{" + name + "}")
            names.append(name)
            end = found.end()
        parts.append(_literal(source[end:]))
        self.source = source
        self.fmt = "".join(parts)
        self.names = frozenset(names)

    def render(self, values: Mapping[str, str]) -> str:
        return self.fmt.format_map(values)


class _ItemTemplate:
    """An item template (``|%ParamName%=%ParamValue%``) joined over many pairs."""

    __slots__ = ("_fast", "template")

    def __init__(self, source: str, setting: str) -> None:
        self.template = Template(source, _ITEM, setting)
        pieces = _PLACEHOLDER.split(source)
        # "pre%ParamName%mid%ParamValue%post": concatenation beats str.format per pair
        self._fast = (pieces[0], pieces[2], pieces[4]) if (
            len(pieces) == 5 and pieces[1] == "ParamName" and pieces[3] == "ParamValue") else None

    def join(self, pairs: Iterable[tuple[str, str]], separator: str = "") -> str:
        if self._fast is not None:
            pre, mid, post = self._fast
            return separator.join([pre + name + mid + value + post for name, value in pairs])
        fmt = self.template.fmt
        return separator.join([fmt.format(ParamName=name, ParamValue=value)
                               for name, value in pairs])


class Renderer:
    """Renders lines from compiled Templates; safe to share between threads."""

    def __init__(self, templates: Templates | None = None) -> None:
        t = templates if templates is not None else Templates()
        self.templates = t
        self._detection = Template(t.detection, _DETECTION, "detection", captures=True)
        self._context = _ItemTemplate(t.context_item, "context_item")
        self._actionable = _ItemTemplate(t.actionable_item, "actionable_item")
        self._alert = Template(t.alert, _ALERT, "alert")
        self._alert_context = _ItemTemplate(t.alert_context_item, "alert_context_item")
        self._finished = Template(t.finished, _FINISHED, "finished")
        if any(ord(c) < 0x20 for c in t.actionable_separator):
            raise ConfigError("output.templates.actionable_separator: no control characters")
        self._separator = t.actionable_separator
        self._ids = EventIds()
        self._date_second = -1
        self._date_text = ""

    @property
    def per_match(self) -> bool:
        """True when a detection line depends only on the match and the observable.

        Such lines can be kept and reused for a repeated verdict (no date, source,
        request id, event id or captured values in the template).
        """
        return self._detection.names <= _PER_MATCH

    @property
    def capture_names(self) -> frozenset[str]:
        """The extraction rules the detection template names (``%RE_URL%`` -> ``URL``)."""
        return frozenset(n[3:] for n in self._detection.names if n.startswith("RE_"))

    def detection(self, match: Match, *, observable: str, source_id: str = "",
                  captures: Mapping[str, list[str]] | None = None,
                  request_id: str | None = None, event_id: str = "",
                  now: float | None = None) -> str:
        """One detection line; ``request_id`` (HA mode) starts the line unless it has %REQ%.

        ``event_id`` fills %EventId%; when it is empty and the template uses it, a new
        id is made (EventIds).
        """
        names = self._detection.names
        values: dict[str, str] = {}
        if "Category" in names:
            values["Category"] = escape_value(match.category)
        if "MatchedIndicator" in names:
            values["MatchedIndicator"] = escape_value(match.pattern)
        if "RecordContext" in names:
            values["RecordContext"] = self._context.join(context_pairs(match_context(match)))
        if "Observable" in names:
            values["Observable"] = escape_value(observable)
        if "Feed" in names:
            values["Feed"] = escape_value(match.feed)
        if "IndicatorInfo" in names:
            values["IndicatorInfo"] = escape_value(f"{match.explain()} from {match.feed}")
        if "SourceId" in names:
            values["SourceId"] = escape_value(source_id)
        if "Date" in names:
            values["Date"] = self._date(time.time() if now is None else now)
        if "REQ" in names:
            values["REQ"] = escape_value(request_id or "")
        if "EventId" in names:
            values["EventId"] = escape_value(event_id or self._ids())
        if "ActionableFields" in names:
            values["ActionableFields"] = self._actionable.join(
                ((escape_name(rule), escape_value(value))
                 for rule, found in (captures or {}).items() for value in found),
                self._separator)
        for name in names:
            if name.startswith("RE_"):
                found = (captures or {}).get(name[3:]) or ()
                values[name] = escape_value(",".join(found))
        line = self._detection.render(values)
        if request_id is not None and "REQ" not in names:
            return f"{escape_value(request_id)} {line}"
        return line

    def finished(self, sent_events: int, totals: Mapping[str, int], *,
                 request_id: str | None = None, source_id: str = "",
                 now: float | None = None) -> str:
        """The finished line: %RecordContext% is ``sent_events`` and ``total`` (``cat:n;``)."""
        names = self._finished.names
        values: dict[str, str] = {}
        if "RecordContext" in names:
            total = "".join(f"{category}:{count};" for category, count in totals.items())
            values["RecordContext"] = self._context.join(
                [("sent_events", str(sent_events)), ("total", escape_value(total))])
        if "Date" in names:
            values["Date"] = self._date(time.time() if now is None else now)
        if "SourceId" in names:
            values["SourceId"] = escape_value(source_id)
        if "REQ" in names:
            values["REQ"] = escape_value(request_id or "")
        line = self._finished.render(values)
        if request_id is not None and "REQ" not in names:
            return f"{escape_value(request_id)} {line}"
        return line

    def alert(self, alert: Alert, *, source_id: str = "", event_id: str = "") -> str:
        """A service alert line; %RecordContext% is the alert's fields, %Date% its time."""
        names = self._alert.names
        values: dict[str, str] = {}
        if "Alert" in names:
            values["Alert"] = escape_value(alert.name)
        if "RecordContext" in names:
            values["RecordContext"] = self._alert_context.join(
                context_pairs(alert.fields))
        if "Date" in names:
            values["Date"] = self._date(alert.time)
        if "SourceId" in names:
            values["SourceId"] = escape_value(source_id)
        if "EventId" in names:
            values["EventId"] = escape_value(event_id or self._ids())
        return self._alert.render(values)

    def _date(self, now: float) -> str:
        """``Mon DD HH:MM:SS`` (English month, zero-padded day), cached per second."""
        second = int(now)
        if second != self._date_second:
            t = time.gmtime(second) if self.templates.date_utc else time.localtime(second)
            self._date_text = (f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
                               f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")
            self._date_second = second
        return self._date_text


class EventIds:
    """Stable, unique ids for output lines: ``<worker>-<start time, base 36>-<counter, hex>``.

    At most 32 characters (an RFC 5424 MSGID) for any worker id up to 7 characters
    and 4 billion lines per start. Thread-safe (``itertools.count`` is atomic).
    """

    def __init__(self, worker: str | int | None = None) -> None:
        worker = os.getpid() if worker is None else worker
        self.prefix = f"{worker}-{_base36(time.time_ns())}-"
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self._counter):x}"


# --- values ---------------------------------------------------------------------------------

_SPECIAL = re.compile("[\\\\|\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SPECIAL_NAME = re.compile("[\\\\|=\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_ESCAPES = {"\\": "\\\\", "|": "\\|", "=": "\\=", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(found: re.Match[str]) -> str:
    char = found.group()
    known = _ESCAPES.get(char)
    if known is not None:
        return known
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"  # a lone surrogate (undecodable input) is not text
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_value(text: str) -> str:
    """One line, unambiguous: ``\\`` -> ``\\\\``, ``|`` -> ``\\|``, LF -> ``\\n``, CR -> ``\\r``,
    TAB -> ``\\t``, other controls -> ``\\xNN``, lone surrogates -> U+FFFD."""
    if _SPECIAL.search(text) is None:
        return text
    return _SPECIAL.sub(_escape_char, text)


def escape_name(text: str) -> str:
    """A field name: as ``escape_value``, and ``=`` -> ``\\=`` too."""
    if _SPECIAL_NAME.search(text) is None:
        return text
    return _SPECIAL_NAME.sub(_escape_char, text)


def context_pairs(context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Escaped ``(name, value)`` pairs; nested objects as ``key.sub``, lists joined with ``,``.

    ``{"whois": {"country": "US"}, "geo": ["de", "fr"], "files": [{"MD5": "a"}, {"MD5": "b"}]}``
    -> ``whois.country=US``, ``geo=de,fr``, ``files.MD5=a,b``. ``None`` and empty lists
    are left out; depth is capped at 8 (``...`` below), lists at 100 elements.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in context.items():
        if type(value) is str:
            pairs.append((escape_name(key), escape_value(value)))
        else:
            for name, text in _flat(str(key), value, 0):
                pairs.append((escape_name(name), escape_value(text)))
    return pairs


def _flat(prefix: str, node: Any, depth: int) -> list[tuple[str, str]]:
    if isinstance(node, Mapping):
        if depth >= MAX_DEPTH:
            return [(prefix, "...")]
        out: list[tuple[str, str]] = []
        for key, value in node.items():
            out.extend(_flat(f"{prefix}.{key}", value, depth + 1))
        return out
    if isinstance(node, list | tuple | set | frozenset):
        items = list(node)[:MAX_LIST]
        scalars = [_text(v) for v in items if v is not None and not isinstance(
            v, Mapping | list | tuple | set | frozenset)]
        merged: dict[str, list[str]] = {prefix: scalars} if scalars else {}
        for element in items:
            if isinstance(element, Mapping | list | tuple | set | frozenset):
                for name, text in _flat(prefix, element, depth + 1):
                    merged.setdefault(name, []).append(text)
        return [(name, ",".join(texts)) for name, texts in merged.items()]
    if node is None:
        return []
    return [(prefix, _text(node))]


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _literal(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"
