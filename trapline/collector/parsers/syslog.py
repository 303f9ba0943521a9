"""Syslog messages: RFC 5424 (with structured data) and RFC 3164 (BSD), recognised per line.

An RFC 3164 header may carry an RFC 3339 timestamp instead of ``Mmm dd
hh:mm:ss`` (rsyslog's ``RSYSLOG_ForwardFormat`` template for forwarding).

The header goes into ``syslog`` (``facility``, ``severity``, ``timestamp``,
``hostname``, ``app_name``, ``procid``, ``msgid``, and for RFC 5424
``structured_data``: ``{SD-ID: {PARAM: value}}``), the rest into ``message``.
A message that is itself an event is unpacked beside them: a JSON object
(``{...}``, e.g. Suricata EVE or Sysmon sent with ``logger``) or CEF
(``CEF:0|...``). A line without ``<PRI>`` is taken as a bare message.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from trapline.collector.parsers.cef import parse_cef
from trapline.collector.parsers.errors import ParseError

_PRI = re.compile(r"<(\d{1,3})>")
_RFC3164 = re.compile(
    r"(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"  # BSD, or RFC 3339 (rsyslog's forwarding)
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d))"
    r"(?: (?P<host>[^\s:\[]+))?"
    r"(?: (?P<tag>[^\s:\[]+)(?:\[(?P<pid>[^\]]*)\])?:)? ?(?P<msg>.*)", re.S)
_SD_PARAM = re.compile(r'([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')
_SD_UNESCAPE = re.compile(r'\\([\\"\]])')
_decode = msgspec.json.Decoder().decode
NIL = "-"


def _structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """Parse ``[id p="v"][id2 ...]`` at the start of ``text``; return it and the rest."""
    data: dict[str, dict[str, str]] = {}
    if text.startswith(NIL):
        return data, text[1:]
    i = 0
    while i < len(text) and text[i] == "[":
        j = i + 1
        while j < len(text) and text[j] not in " ]":
            j += 1
        sd_id = text[i + 1:j]
        params: dict[str, str] = {}
        while j < len(text) and text[j] != "]":
            match = _SD_PARAM.match(text, j + 1) if text[j] == " " else None
            if match is None:
                raise ParseError(f"malformed structured data near {text[j:j + 20]!r}")
            params[match.group(1)] = _SD_UNESCAPE.sub(r"\1", match.group(2))
            j = match.end()
        if j >= len(text):
            raise ParseError("unterminated structured data")
        data[sd_id] = params
        i = j + 1
    if not data:
        raise ParseError(f"structured data must be '-' or '[...]', got {text[:20]!r}")
    return data, text[i:]


def _unpack(message: str, fields: dict[str, Any]) -> None:
    body = message.lstrip()
    if body.startswith("{"):
        try:
            value = _decode(body)
        except msgspec.DecodeError:
            return
        if isinstance(value, dict):
            del fields["message"]  # every part of it is kept, as fields
            for key, item in value.items():
                fields.setdefault(key, item)
    elif body.startswith("CEF:"):
        try:
            parsed = parse_cef(body)
        except ParseError:
            return
        del fields["message"]
        for key, item in parsed.items():
            fields.setdefault(key, item)


def parse_syslog(line: str) -> dict[str, Any]:
    match = _PRI.match(line)
    if match is None:
        fields: dict[str, Any] = {"message": line}
        _unpack(line, fields)
        return fields
    pri = int(match.group(1))
    if pri > 191:
        raise ParseError(f"syslog priority {pri} is over 191")
    header: dict[str, Any] = {"facility": pri >> 3, "severity": pri & 7}
    rest = line[match.end():]
    if rest.startswith("1 "):  # RFC 5424
        parts = rest.split(" ", 6)
        if len(parts) < 7:
            raise ParseError("RFC 5424 header has fewer than 7 fields")
        _, ts, host, app, procid, msgid, tail = parts
        for name, value in (("timestamp", ts), ("hostname", host), ("app_name", app),
                            ("procid", procid), ("msgid", msgid)):
            if value != NIL:
                header[name] = value
        sd, message = _structured_data(tail)
        if sd:
            header["structured_data"] = sd
        message = message[1:] if message.startswith(" ") else message
        if message.startswith("\ufeff"):
            message = message[1:]
        header["rfc"] = 5424
    else:
        bsd = _RFC3164.fullmatch(rest)
        if bsd is None:
            header["rfc"] = 3164
            message = rest
        else:
            header.update({"rfc": 3164, "timestamp": bsd.group("ts")})
            for name, group in (("hostname", "host"), ("app_name", "tag"), ("procid", "pid")):
                if bsd.group(group):
                    header[name] = bsd.group(group)
            message = bsd.group("msg")
    fields = {"syslog": header, "message": message}
    _unpack(message, fields)
    return fields
