"""What extraction produces: observed values, and the extraction of one event.

    >>> Observed("dest_ip", "IP", "192.0.2.7")
    Observed(rule='dest_ip', type='IP', value='192.0.2.7')

Types are plain strings, as the vendor's rule files spell them. ``HASH`` is a rule
type only: its values are reported as ``MD5``, ``SHA1`` or ``SHA256`` by length.
"""

from __future__ import annotations

from typing import NamedTuple

URL = "URL"
MD5 = "MD5"
SHA1 = "SHA1"
SHA256 = "SHA256"
HASH = "HASH"
IP = "IP"
DOMAIN = "DOMAIN"
CONTEXT = "CONTEXT"

#: Rule types a configuration may name; CONTEXT values are captured, never looked up.
RULE_TYPES = (URL, MD5, SHA1, SHA256, HASH, IP, DOMAIN, CONTEXT)

#: Events are read up to this many characters (the service caps lines at 64 KiB), which
#: also bounds the time any regular expression can spend on one event.
MAX_EVENT_CHARS = 65536
#: A configured regular expression may be at most this long.
MAX_PATTERN_CHARS = 4096


class Observed(NamedTuple):
    """One value pulled out of an event, with the rule that found it and its type."""

    rule: str
    type: str
    value: str


class Extraction(NamedTuple):
    """Everything one event yielded.

    ``observables`` are in event order with duplicates (same type and value) removed;
    ``captures`` holds every rule's captured values by rule name, CONTEXT rules
    included; ``request_id`` is the high-availability request id, if configured.
    """

    observables: list[Observed]
    captures: dict[str, list[str]]
    request_id: str | None
