"""The TI field: the service's answer, one entry per matched indicator.

    "TI": [{"rule": "CyberTrace", "field": "SourceAddress", "type": "ip",
            "value": "192.0.2.1", "indicator": "192.0.2.1",
            "category": "Demo_IP_Reputation", "feed": "Demo_IP_Reputation.json",
            "context": {"threat_score": "90", ...}}]

Over TCP the detection lines are ``Category=...|MatchedIndicator=...|k=v...``
(escaped as docs/output.md says); the field is found by comparing the matched
indicator with the values sent (exact, CIDR containment, a domain in a URL or
host); ``feed`` comes from a ``feed`` context field when the service's
template sends one (``%Feed%``), else null. Over HTTP every part is given.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

Sent = tuple[str, str, str]  # (field, type, value)
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|.)")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t"}


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE.get(code, code)
    return _ESCAPE.sub(replace, text)


def _split_fields(line: str) -> list[str]:
    """Split at ``|`` not escaped by a backslash."""
    fields, current, i = [], [], 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            current.append(line[i:i + 2])
            i += 2
            continue
        if char == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    fields.append("".join(current))
    return fields


def _split_pair(field: str) -> tuple[str, str]:
    i = 0
    while i < len(field):
        if field[i] == "\\":
            i += 2
            continue
        if field[i] == "=":
            return _unescape(field[:i]), _unescape(field[i + 1:])
        i += 1
    return _unescape(field), ""


def parse_detection(line: str) -> dict[str, Any] | None:
    """One detection line into ``{category, indicator, context}``; None if it is not one."""
    category = indicator = None
    context: dict[str, Any] = {}
    if "\\" in line:
        pairs = [_split_pair(part) for part in _split_fields(line)]
    else:  # the usual line: nothing escaped, plain splits
        pairs = [part.partition("=")[::2] for part in line.split("|")]
    for name, value in pairs:
        if name == "Category" and category is None:
            category = value
        elif name == "MatchedIndicator" and indicator is None:
            indicator = value
        elif name:
            context[name] = value
    if category is None and indicator is None:
        return None
    return {"category": category, "indicator": indicator, "context": context}


def _covers(indicator: str, kind: str, value: str) -> bool:
    indicator, value = indicator.lower(), value.lower()
    if indicator == value:
        return True
    if kind == "ip" and "/" in indicator:
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(indicator, strict=False)
        except ValueError:
            return False
    if kind in ("url", "domain"):
        core = indicator.split("://", 1)[-1].rstrip("/*")
        return bool(core) and core in value
    return False


def attribute(indicator: str | None, sent: list[Sent]) -> Sent | None:
    """Which of the values sent this indicator matched."""
    if len(sent) == 1:
        return sent[0]
    if indicator:
        for item in sent:
            if item[2].lower() == indicator.lower():
                return item
        for item in sent:
            if _covers(indicator, item[1], item[2]):
                return item
    return None


def entry(rule: str, sent: Sent | None, category: Any, indicator: Any,
          context: dict[str, Any]) -> dict[str, Any]:
    feed = context.get("feed")
    return {"rule": rule,
            "field": sent[0] if sent else None, "type": sent[1] if sent else None,
            "value": sent[2] if sent else None,
            "indicator": indicator, "category": category,
            "feed": feed if isinstance(feed, str) else None, "context": context}


Parsed = list[tuple[dict[str, Any], str]]  # (detection, its line)


def parse_lines(lines: list[str]) -> Parsed:
    """The detections of an answer, parsed once (an answer reused from the cache is
    not parsed again)."""
    return [(detection, line) for line in lines
            if (detection := parse_detection(line)) is not None]


def parsed_entries(rule: str, parsed: Parsed, sent: list[Sent]) -> list[dict[str, Any]]:
    """Entries from parsed detection lines; the same record matched through two values
    of one field (a URL and its host) is one entry."""
    out = []
    seen: set[tuple[Any, ...]] = set()
    for detection, line in parsed:
        item = entry(rule, attribute(detection["indicator"], sent), detection["category"],
                     detection["indicator"], dict(detection["context"]))
        key = (item["field"], item["indicator"], item["category"], line)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def tcp_entries(rule: str, lines: list[str], sent: list[Sent]) -> list[dict[str, Any]]:
    """Entries from detection lines (``parsed_entries`` of ``parse_lines``)."""
    return parsed_entries(rule, parse_lines(lines), sent)


def http_entries(rule: str, answer: Any, sent: list[Sent]) -> list[dict[str, Any]]:
    """Entries from the vendor API's answer (one item per object sent, in order)."""
    out: list[dict[str, Any]] = []
    if not isinstance(answer, list):
        return out
    for item, asked in zip(answer, sent, strict=False):
        if not isinstance(item, dict):
            continue
        for category in item.get("categories") or ():
            if not isinstance(category, dict):
                continue
            context = category.get("context")
            context = context if isinstance(context, dict) else {}
            indicator = category.get("detected_indicator", category.get("detectedIndicator"))
            out.append(entry(rule, asked, category.get("category"), indicator, context))
    return out
