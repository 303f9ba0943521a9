"""MISP events and MISP feeds: the attributes of indicator types, with their event's context.

    {"Event": {"info": "Zebrocy campaign", "uuid": "5ce6...", "id": "8",
               "Tag": [{"name": "tlp:white"}],
               "Galaxy": [{"GalaxyCluster": [{"value": "Sofacy"}]}],
               "Attribute": [{"type": "ip-dst", "value": "198.51.100.7", "to_ids": true,
                              "category": "Network activity", "timestamp": "1558612800"}]}}

reads as ``IndicatorRecord(value="198.51.100.7", kind="cidr", context={"event":
"Zebrocy campaign", "event_uuid": "5ce6...", "event_id": "8", "tags": ["tlp:white"],
"galaxies": ["Sofacy"], "attribute_type": "ip-dst", "attribute_category": "Network
activity"}, last_seen=1558612800.0)``.

A path is one event file, ``{"Event": {...}}``, ``{"response": [{"Event": {...}}, ...]}``
or ``[{"Event": {...}}, ...]``; or a MISP feed folder (``manifest.json`` listing event
uuids, one ``<uuid>.json`` per event), given as the folder or as its ``manifest.json``.

Files are streamed with ijson, twice: a first pass reads the small event-level fields
(info, uuid, id, tags, galaxy clusters, which MISP writes after the attributes) and
counts each event's attributes; a second pass builds one attribute (or object) at a
time. A huge event never becomes Python objects all at once. Malformed JSON raises
FeedParseError naming the file; a malformed attribute is skipped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig
from trapline.feeds.json_stream import json_events, json_items, open_json
from trapline.feeds.report import FeedReport
from trapline.index.records import IndicatorRecord

# -- attribute types ----------------------------------------------------------------------------

# A single-value type -> the kind of its record ("cidr" reads an address or a network).
_SINGLE: dict[str, str] = {
    "ip-src": "cidr", "ip-dst": "cidr",
    "domain": "domain", "hostname": "domain",
    "url": "url", "uri": "url",
    "md5": "md5", "sha1": "sha1", "sha256": "sha256",
    "email-src": "email",
}
# A composite type ("left|right") -> the role of each part: a kind role makes a record,
# the others become context of the records (under the role's name).
_COMPOSITE: dict[str, tuple[str, str]] = {
    "domain|ip": ("domain", "ip"),
    "ip-src|port": ("ip", "port"), "ip-dst|port": ("ip", "port"),
    "hostname|port": ("domain", "port"),
    "filename|md5": ("filename", "md5"),
    "filename|sha1": ("filename", "sha1"),
    "filename|sha256": ("filename", "sha256"),
}
_NOT_VALUES = frozenset({"map_key", "end_map", "end_array"})
_ROLE_KIND = {"domain": "domain", "ip": "cidr", "md5": "md5", "sha1": "sha1",
              "sha256": "sha256"}
_MAX_TYPE_REASONS = 200  # distinct "unsupported attribute type X" reasons kept apart

_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_YEAR_10000 = 253_402_300_800.0  # Unix seconds; later (or not finite) is not a time
_BASES = ("Event", "response.item.Event", "item.Event")  # where an event sits in a file


@dataclass
class _Event:
    """One event's small fields (pass 1) and how many attributes and objects it has."""

    base: str
    info: str = ""
    uuid: str = ""
    id: str = ""
    tags: list[str] = field(default_factory=list)
    galaxies: list[str] = field(default_factory=list)
    attributes: int = 0
    objects: int = 0

    def context(self) -> dict[str, Any]:
        """The context every record of the event starts from (empty fields left out)."""
        context: dict[str, Any] = {}
        for key, value in (("event", self.info), ("event_uuid", self.uuid),
                           ("event_id", self.id)):
            if value:
                context[key] = value
        if self.tags:
            context["tags"] = list(dict.fromkeys(self.tags))
        if self.galaxies:
            context["galaxies"] = list(dict.fromkeys(self.galaxies))
        return context


def _scan_table() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {"": ("", "wrapper"), "response": ("", "wrapper")}
    for base in _BASES:
        table[base] = (base, "event")
        for suffix, name in ((".info", "info"), (".uuid", "uuid"), (".id", "id"),
                             (".Tag.item.name", "tag"),
                             (".Galaxy.item.GalaxyCluster.item.value", "galaxy"),
                             (".Attribute.item", "attribute"), (".Object.item", "object")):
            table[base + suffix] = (base, name)
    return table


_SCAN = _scan_table()


# -- reading --------------------------------------------------------------------------------


def read_misp(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[IndicatorRecord]:
    """Records of a MISP event file or MISP feed folder (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        yield from _read_feed_folder(path, feed, report)
    elif path.name == "manifest.json":
        yield from _read_feed_folder(path.parent, feed, report)
    else:
        yield from read_event_file(path, feed, report)


def _read_feed_folder(folder: Path, feed: FeedConfig, report: FeedReport) -> Iterator[
        IndicatorRecord]:
    for uuid in _manifest_uuids(folder / "manifest.json"):
        if not _UUID.match(uuid):
            report.skip("manifest key not an event uuid", uuid)
            continue
        event_path = folder / f"{uuid}.json"
        if not event_path.is_file():
            report.skip("event file missing", event_path.name)
            continue
        yield from read_event_file(event_path, feed, report)


def _manifest_uuids(manifest: Path) -> list[str]:
    """The keys of a feed's manifest, in order, once each (the summaries are not needed)."""
    keys: list[str] = []
    with open_json(manifest) as handle:
        events = json_events(handle, manifest)
        first = next(events, None)
        if first is None or first[1] != "start_map":
            raise FeedParseError(f"{manifest.name}: a MISP feed manifest is a JSON object "
                                 "of event uuids")
        keys.extend(value for prefix, event, value in events
                    if event == "map_key" and prefix == "")
    return list(dict.fromkeys(keys))


def read_event_file(path: Path, feed: FeedConfig, report: FeedReport) -> Iterator[
        IndicatorRecord]:
    """Records of one file holding one or more MISP events."""
    with open_json(path) as handle:
        events = _scan_events(handle, path)
        for base in dict.fromkeys(event.base for event in events):
            group = [event for event in events if event.base == base]
            if any(event.attributes for event in group):
                items = json_items(handle, base + ".Attribute.item", path)
                for event in group:
                    context = event.context()
                    for attribute in islice(items, event.attributes):
                        yield from _attribute_records(attribute, context, feed, report)
            if any(event.objects for event in group):
                items = json_items(handle, base + ".Object.item", path)
                for event in group:
                    context = event.context()
                    for obj in islice(items, event.objects):
                        yield from _object_records(obj, context, feed, report)


def _scan_events(handle: IO[bytes], path: Path) -> list[_Event]:
    """Pass 1: every event's small fields and its attribute and object counts, in order.

    Counts follow the same prefixes ``json_items`` follows in pass 2, so pass 2 can
    split its stream of attributes between the events exactly.
    """
    events: list[_Event] = []
    current: dict[str, _Event] = {}
    empty_ok = False  # a wrapper array was seen: a file of no events is then valid
    for prefix, event, value in json_events(handle, path):
        hit = _SCAN.get(prefix)
        if hit is None or event in _NOT_VALUES:
            continue
        base, name = hit
        if name == "wrapper":
            empty_ok = empty_ok or event == "start_array"
            continue
        if name == "event":
            if event == "start_map":
                current[base] = _Event(base)
                events.append(current[base])
            continue
        target = current.get(base)
        if target is None:  # reachable only through keys that contain dots
            target = current[base] = _Event(base)
            events.append(target)
        _scan_value(target, name, event, value)
    if not events and not empty_ok:
        raise FeedParseError(f"{path.name}: no MISP event: expected {{\"Event\": {{...}}}} or "
                             "{\"response\": [{\"Event\": {...}}, ...]}")
    return events


def _scan_value(target: _Event, name: str, event: str, value: Any) -> None:
    if name == "attribute":
        target.attributes += 1
    elif name == "object":
        target.objects += 1
    elif event == "string":
        if name == "tag":
            target.tags.append(value)
        elif name == "galaxy":
            target.galaxies.append(value)
        else:
            setattr(target, name, value)
    elif name == "id" and event == "number":
        target.id = str(value)


# -- attributes and objects ---------------------------------------------------------------------


def _object_records(obj: Any, context: dict[str, Any], feed: FeedConfig,
                    report: FeedReport) -> Iterator[IndicatorRecord]:
    """Records of the attributes of one MISP object (a file, a domain-ip pair...)."""
    if not isinstance(obj, dict):
        report.skip("object not a JSON object", repr(obj))
        return
    if _truthy(obj.get("deleted")):
        report.skip("deleted object", str(obj.get("uuid", "")))
        return
    attributes = obj.get("Attribute")
    if not isinstance(attributes, list):
        return
    context = dict(context)
    name = obj.get("name")
    if isinstance(name, str) and name:
        context["object"] = name
    filename = next((a.get("value") for a in attributes if isinstance(a, dict)
                     and a.get("type") == "filename" and isinstance(a.get("value"), str)), None)
    if filename:
        context["filename"] = filename
    for attribute in attributes:
        yield from _attribute_records(attribute, context, feed, report)


def _attribute_records(attribute: Any, context: dict[str, Any], feed: FeedConfig,
                       report: FeedReport) -> Iterator[IndicatorRecord]:
    """The records of one attribute: none (skipped and counted), one, or two (domain|ip)."""
    kind_parts = _accepted(attribute, feed, report)
    if kind_parts is None:
        return
    type_, parts = kind_parts
    base = _attribute_context(attribute, type_, context)
    first_seen = _time(attribute.get("first_seen"))
    last_seen = _time(attribute.get("last_seen")) or _time(attribute.get("timestamp"))
    for role, value in parts:
        kind = _ROLE_KIND.get(role) if type_ in _COMPOSITE else _SINGLE[type_]
        if kind is None:
            continue
        own = dict(base)
        own.update((other, text) for other, text in parts if other != role)
        yield IndicatorRecord(value=value, kind=kind, feed=feed.name, category=feed.category,
                              context=own, first_seen=first_seen, last_seen=last_seen,
                              allow=feed.allow)


def _accepted(attribute: Any, feed: FeedConfig, report: FeedReport) -> tuple[
        str, list[tuple[str, str]]] | None:
    """``(type, [(role, value), ...])`` of an attribute to read, or None (counted)."""
    if not isinstance(attribute, dict):
        report.skip("attribute not a JSON object", repr(attribute))
        return None
    value = attribute.get("value")
    type_ = attribute.get("type")
    if not isinstance(value, str) or not value.strip():
        report.skip("attribute without a value", repr(value))
        return None
    if _truthy(attribute.get("deleted")):
        report.skip("deleted attribute", value)
        return None
    if not isinstance(type_, str):
        report.skip("attribute without a type", value)
        return None
    if type_ not in _SINGLE and type_ not in _COMPOSITE:
        report.skip(_unsupported(type_, report), value)
        return None
    if feed.to_ids_only and not _truthy(attribute.get("to_ids")):
        report.skip("not to_ids", value)
        return None
    parts = _split(type_, value)
    if isinstance(parts, str):
        report.skip(parts, value)
        return None
    return type_, parts


def _split(type_: str, value: str) -> list[tuple[str, str]] | str:
    """The ``(role, value)`` parts of an attribute value, or why it has none."""
    if type_ in _SINGLE:
        if type_ == "uri" and value.lstrip().startswith("/"):
            return "uri without a host"  # a bare path: nothing a lookup could meet
        return [(type_, value)]
    left, sep, right = value.rpartition("|")
    if not sep or not left.strip() or not right.strip():
        return f"malformed {type_} value"
    left_role, right_role = _COMPOSITE[type_]
    return [(left_role, left), (right_role, right)]


def _unsupported(type_: str, report: FeedReport) -> str:
    reason = f"unsupported attribute type {type_[:60]}"
    if reason in report.skipped or len(report.skipped) < _MAX_TYPE_REASONS:
        return reason
    return "unsupported attribute type (others)"


def _attribute_context(attribute: dict[str, Any], type_: str,
                       context: dict[str, Any]) -> dict[str, Any]:
    """The event's context plus the attribute's type, category, comment, tags, clusters."""
    own = dict(context)
    own["attribute_type"] = type_
    for key, name in (("category", "attribute_category"), ("comment", "comment")):
        value = attribute.get(key)
        if isinstance(value, str) and value.strip():
            own[name] = value
    tags = _names(attribute.get("Tag"), "name")
    if tags:
        own["tags"] = list(dict.fromkeys([*own.get("tags", ()), *tags]))
    clusters = [value for galaxy in _dicts(attribute.get("Galaxy"))
                for value in _names(galaxy.get("GalaxyCluster"), "value")]
    if clusters:
        own["galaxies"] = list(dict.fromkeys([*own.get("galaxies", ()), *clusters]))
    return own


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _names(items: Any, key: str) -> list[str]:
    return [item[key] for item in _dicts(items) if isinstance(item.get(key), str)]


def _truthy(value: Any) -> bool:
    """MISP booleans: ``true``, ``1``, ``"1"``, ``"true"``."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return value is True or (type(value) is int and value == 1)


def _time(value: Any) -> float | None:
    """Unix seconds of a MISP time: seconds (number or digits) or ISO 8601, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                seconds = float(text)
            else:
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                seconds = moment.timestamp()
        else:
            seconds = float(value)
    except (ValueError, TypeError, OverflowError):
        return None
    return seconds if 0 < seconds < _YEAR_10000 else None
