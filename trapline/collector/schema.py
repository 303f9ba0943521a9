"""The normalized event: the SIEM's field names (protocol.md section 6), and presets.

An event is a ``dict``. Parsing keeps every field it found under its own name;
a preset then adds the schema fields (``SourceAddress``, ``RequestUrl``, ...)
taken from the fields of one event source. A schema field already present is
left alone. ``field_value(event, "http.hostname")`` walks nested objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]

FIELDS: dict[str, str] = {
    "Timestamp": "when the event happened, as the source wrote it",
    "SourceAddress": "the address that started the connection or request",
    "SourcePort": "its port",
    "SourceHostName": "its host name",
    "SourceUserName": "the user on the source side",
    "DestinationAddress": "the address connected or sent to",
    "DestinationPort": "its port",
    "DestinationHostName": "the host name asked for (HTTP Host, TLS SNI, DNS query)",
    "DestinationUserName": "the user on the destination side",
    "TransportProtocol": "TCP, UDP, ...",
    "RequestUrl": "the URL requested (absolute when the host is known)",
    "RequestMethod": "the HTTP method",
    "RequestReferrer": "the HTTP referrer",
    "RequestClientApplication": "the HTTP user agent",
    "HttpStatus": "the HTTP status code",
    "BytesOut": "bytes sent back to the client",
    "FileHash": "a hash of the file involved (SHA-256 when known, else SHA-1, else MD5)",
    "FileName": "the file's name",
    "FilePath": "the file's full path",
    "DeviceVendor": "who made the reporting device",
    "DeviceProduct": "the reporting product",
    "DeviceVersion": "its version",
    "DeviceHostName": "the host that reported the event",
    "DeviceEventClassID": "the source's event type or signature id",
    "DeviceEventCategory": "the source's event category",
    "DeviceAction": "what the device did",
    "Name": "the event's or signature's name",
    "Severity": "the source's severity",
    "Message": "free text",
    **{f"DeviceCustomString{i}": f"custom string {i} (CEF cs{i})" for i in range(1, 7)},
    **{f"DeviceCustomString{i}Label": f"the label of custom string {i}" for i in range(1, 7)},
    "TI": "the enrichment answer (docs/collector.md, 'The TI field')",
    "TIStatus": "per rule: enriched | unenriched: REASON | skipped (filter)",
}


def field_value(event: Event, name: str) -> Any:
    """The value of ``name`` in ``event``; a dotted name walks into nested objects."""
    if name in event:
        return event[name]
    if "." not in name:
        return None
    value: Any = event
    for part in name.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def _set(event: Event, name: str, value: Any) -> None:
    if value not in (None, "", "-") and name not in event:
        event[name] = value


def _absolute_url(host: Any, url: Any, scheme: str = "http") -> str | None:
    if not url:
        return None
    url = str(url)
    if "://" in url or not host:
        return url
    return f"{scheme}://{host}{url if url.startswith('/') else '/' + url}"


def preset_eve(event: Event) -> None:
    """Suricata EVE JSON (alert, dns, http, tls, fileinfo, flow, ...)."""
    _set(event, "Timestamp", event.get("timestamp"))
    _set(event, "SourceAddress", event.get("src_ip"))
    _set(event, "SourcePort", event.get("src_port"))
    _set(event, "DestinationAddress", event.get("dest_ip"))
    _set(event, "DestinationPort", event.get("dest_port"))
    _set(event, "TransportProtocol", event.get("proto"))
    _set(event, "DeviceEventCategory", event.get("event_type"))
    event.setdefault("DeviceVendor", "OISF")
    event.setdefault("DeviceProduct", "Suricata")
    http = event.get("http")
    if isinstance(http, dict):
        _set(event, "DestinationHostName", http.get("hostname"))
        _set(event, "RequestUrl", _absolute_url(http.get("hostname"), http.get("url")))
        _set(event, "RequestMethod", http.get("http_method"))
        _set(event, "RequestReferrer", http.get("http_refer"))
        _set(event, "RequestClientApplication", http.get("http_user_agent"))
    dns = event.get("dns")
    if isinstance(dns, dict):
        name = dns.get("rrname")
        if name is None and isinstance(dns.get("query"), list) and dns["query"]:
            name = dns["query"][0].get("rrname")  # EVE version 1
        _set(event, "DestinationHostName", name)
    tls = event.get("tls")
    if isinstance(tls, dict):
        _set(event, "DestinationHostName", tls.get("sni"))
    fileinfo = event.get("fileinfo")
    if isinstance(fileinfo, dict):
        _set(event, "FileName", fileinfo.get("filename"))
        _set(event, "FileHash", fileinfo.get("sha256") or fileinfo.get("sha1")
             or fileinfo.get("md5"))
    alert = event.get("alert")
    if isinstance(alert, dict):
        _set(event, "Name", alert.get("signature"))
        _set(event, "DeviceEventClassID", alert.get("signature_id"))
        _set(event, "Severity", alert.get("severity"))
        _set(event, "DeviceAction", alert.get("action"))


_HASHES = re.compile(r"(SHA256|SHA1|MD5|IMPHASH)=([0-9A-Fa-f]+)")


def preset_sysmon(event: Event) -> None:
    """Sysmon (and Windows Security) events as JSON, the field names of the event XML."""
    _set(event, "Timestamp", event.get("UtcTime") or event.get("@timestamp")
         or event.get("TimeCreated"))
    _set(event, "SourceAddress", event.get("SourceIp"))
    _set(event, "SourcePort", event.get("SourcePort"))
    _set(event, "SourceHostName", event.get("SourceHostname"))
    _set(event, "DestinationAddress", event.get("DestinationIp") or event.get("DestAddress"))
    _set(event, "DestinationPort", event.get("DestinationPort") or event.get("DestPort"))
    _set(event, "DestinationHostName", event.get("DestinationHostname")
         or event.get("QueryName"))
    _set(event, "TransportProtocol", event.get("Protocol"))
    _set(event, "SourceUserName", event.get("User") or event.get("SubjectUserName"))
    _set(event, "DeviceHostName", event.get("Hostname") or event.get("Computer"))
    _set(event, "DeviceEventClassID", event.get("EventID"))
    _set(event, "DeviceProduct", event.get("SourceName") or event.get("Channel"))
    hashes = event.get("Hashes")
    if isinstance(hashes, str):
        found = {name.upper(): value for name, value in _HASHES.findall(hashes)}
        _set(event, "FileHash", found.get("SHA256") or found.get("SHA1") or found.get("MD5"))
    path = event.get("TargetFilename") or event.get("Image") or event.get("ImageLoaded")
    if isinstance(path, str):
        _set(event, "FilePath", path)
        _set(event, "FileName", path.rsplit("\\", 1)[-1].rsplit("/", 1)[-1])


CEF_KEYS = {
    "src": "SourceAddress", "spt": "SourcePort", "shost": "SourceHostName",
    "suser": "SourceUserName", "dst": "DestinationAddress", "dpt": "DestinationPort",
    "dhost": "DestinationHostName", "duser": "DestinationUserName",
    "proto": "TransportProtocol", "request": "RequestUrl", "requestMethod": "RequestMethod",
    "requestClientApplication": "RequestClientApplication", "fileHash": "FileHash",
    "fname": "FileName", "filePath": "FilePath", "act": "DeviceAction", "msg": "Message",
    "rt": "Timestamp", "dvchost": "DeviceHostName",
    **{f"cs{i}": f"DeviceCustomString{i}" for i in range(1, 7)},
    **{f"cs{i}Label": f"DeviceCustomString{i}Label" for i in range(1, 7)},
}


def preset_cef(event: Event) -> None:
    """CEF: the extension's short keys to the schema (the header is named by the parser)."""
    for key, name in CEF_KEYS.items():
        _set(event, name, event.get(key))


_APACHE = re.compile(
    r'(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<method>[A-Z]+) (?P<path>\S+)(?: (?P<protocol>[^"]*))?" (?P<status>\d{3}|-) '
    r'(?P<bytes>\d+|-)(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?')


def preset_apache(event: Event) -> None:
    """Apache common or combined access log lines, in ``message``."""
    line = event.get("message")
    match = _APACHE.match(line) if isinstance(line, str) else None
    if match is None:
        return
    _set(event, "SourceAddress", match.group("client"))
    _set(event, "SourceUserName", match.group("user"))
    _set(event, "Timestamp", match.group("time"))
    _set(event, "RequestMethod", match.group("method"))
    host = event.get("DestinationHostName")
    _set(event, "RequestUrl", _absolute_url(host, match.group("path")))
    _set(event, "RequestReferrer", match.group("referrer"))
    _set(event, "RequestClientApplication", match.group("agent"))
    status, size = match.group("status"), match.group("bytes")
    _set(event, "HttpStatus", int(status) if status and status.isdigit() else None)
    _set(event, "BytesOut", int(size) if size and size.isdigit() else None)
    event.setdefault("DeviceProduct", "Apache HTTP Server")


PRESETS: dict[str, Callable[[Event], None]] = {
    "eve": preset_eve,
    "sysmon": preset_sysmon,
    "cef": preset_cef,
    "apache": preset_apache,
}
