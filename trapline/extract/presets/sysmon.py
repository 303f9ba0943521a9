"""Preset ``sysmon``: Windows events as JSON lines (Sysmon and Security events).

    {"EventID":22,"Image":"C:\\\\Windows\\\\System32\\\\bitsadmin.exe",
     "QueryName":"raw.githubusercontent.com",
     "QueryResults":"type:  5 github.map.fastly.net;::ffff:151.101.208.133;"}

yields ``DOMAIN raw.githubusercontent.com``, ``DOMAIN github.map.fastly.net``,
``IP ::ffff:151.101.208.133``.

The fields are read at the top level (NXLog, OTRF datasets), under
``winlog.event_data`` (Winlogbeat) or under ``EventData`` / ``event_data``.
Rule names are the field names:

- IP: ``SourceIp``, ``DestinationIp`` (Sysmon 3), ``SourceAddress``, ``DestAddress``
  (Security 5156), ``IpAddress`` (Security 4624)
- DOMAIN (an address there becomes IP): ``SourceHostname``, ``DestinationHostname``,
  ``QueryName`` (Sysmon 22), each name and address of ``QueryResults``
- hashes: ``Hashes`` / ``Hash`` (``SHA1=...,MD5=...,SHA256=...,IMPHASH=...``), reported
  as rules ``MD5``, ``SHA1``, ``SHA256``; ``IMPHASH`` is captured only
- free text (URLs, addresses, names, hashes as in ``generic``): ``CommandLine``,
  ``ParentCommandLine``
- context only: EventID, Computer, Hostname, Image, User

Single-label host names (``WORKSTATION5``, ``localhost``) and ``-`` are not
observables. A line that is not a JSON object is read as free text.
"""

from __future__ import annotations

from typing import Any

import msgspec

from trapline.extract.collector import Collector
from trapline.extract.freetext import scan_text
from trapline.extract.model import DOMAIN, HASH, IP, MD5, SHA1, SHA256
from trapline.extract.presets.jsonline import decode_object
from trapline.extract.rules import RuleSet
from trapline.extract.values import is_ip


class _Fields(msgspec.Struct):
    EventID: Any = None
    Computer: Any = None
    Hostname: Any = None
    Image: Any = None
    User: Any = None
    SourceIp: Any = None
    SourceHostname: Any = None
    DestinationIp: Any = None
    DestinationHostname: Any = None
    SourceAddress: Any = None
    DestAddress: Any = None
    IpAddress: Any = None
    QueryName: Any = None
    QueryResults: Any = None
    Hashes: Any = None
    Hash: Any = None
    CommandLine: Any = None
    ParentCommandLine: Any = None


class _Winlog(msgspec.Struct):
    event_data: _Fields | None = None
    event_id: Any = None
    computer_name: Any = None


class _Event(_Fields):
    winlog: _Winlog | None = None
    EventData: _Fields | None = None
    event_data: _Fields | None = None


_DECODER = msgspec.json.Decoder(_Event)
_ADDRESSES = ("SourceIp", "DestinationIp", "SourceAddress", "DestAddress", "IpAddress")
_HOSTS = ("SourceHostname", "DestinationHostname", "QueryName")
_CONTEXT = ("EventID", "Computer", "Hostname", "Image", "User")
_HASH_NAMES = {"MD5": MD5, "SHA1": SHA1, "SHA256": SHA256}


class SysmonRuleSet(RuleSet):
    """Sysmon and Windows Security events as JSON lines."""

    preset = "sysmon"
    default_match = r'"(?:EventID|winlog)"\s*:'

    def scan(self, text: str, out: Collector) -> None:
        event = decode_object(text, _DECODER)
        if event is None:
            scan_text(text, out)
            return
        _fields(event, out)
        for nested in (event.EventData, event.event_data):
            if nested is not None:
                _fields(nested, out)
        if event.winlog is not None:
            out.context("EventID", event.winlog.event_id)
            out.context("Computer", event.winlog.computer_name)
            if event.winlog.event_data is not None:
                _fields(event.winlog.event_data, out)


def _fields(fields: _Fields, out: Collector) -> None:
    for name in _CONTEXT:
        out.context(name, getattr(fields, name))
    for name in _ADDRESSES:
        out.field(name, IP, getattr(fields, name))
    for name in _HOSTS:
        out.field(name, DOMAIN, getattr(fields, name))
    results = fields.QueryResults
    if isinstance(results, str) and results:
        out.capture("QueryResults", results)
        _query_results(results, out)
    for name in ("Hashes", "Hash"):
        value = getattr(fields, name)
        if isinstance(value, str) and value:
            out.capture(name, value)
            _hashes(value, out)
    for name in ("CommandLine", "ParentCommandLine"):
        value = getattr(fields, name)
        if isinstance(value, str) and value:
            out.capture(name, value)
            scan_text(value, out, rule=name)


def _query_results(results: str, out: Collector) -> None:
    # "type:  5 github.map.fastly.net;::ffff:151.101.208.133;" (a CNAME, then an address)
    for item in results.split(";"):
        words = item.split()
        if words:
            value = words[-1]
            out.offer("QueryResults", IP if is_ip(value) else DOMAIN, value)


def _hashes(hashes: str, out: Collector) -> None:
    for item in hashes.split(","):
        algorithm, equals, value = item.partition("=")
        if not equals:
            out.offer("Hashes", HASH, algorithm)
            continue
        algorithm = algorithm.strip().upper()
        out.capture(algorithm, value.strip())
        kind = _HASH_NAMES.get(algorithm)
        if kind is not None:
            out.offer(algorithm, kind, value)
