"""What the store returns and takes: immutable msgspec structs, never database rows.

Every timestamp is UTC as float seconds since the epoch (``time.time()``).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

DEFAULT_TENANT = "General"


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who makes a change, for the audit log: a user name and the remote address."""

    name: str
    address: str = ""


SYSTEM = Actor(name="system")  # internal jobs: the feed updater, retention, first start


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a listing.

    ``next_cursor`` (keyset paging) is passed back to get the next page, None on
    the last one; ``total`` is the number of matches when the listing counts them.
    """

    items: list[T]
    next_cursor: str | None = None
    total: int | None = None


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    created_at: float


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user; the password hash is read apart (``Users.password_hash``) so it is never logged."""

    id: int
    name: str
    tenant: str
    role: str                      # Administrator | Analyst
    disabled: bool
    must_change_password: bool
    created_at: float
    updated_at: float
    sessions_valid_after: float | None = None  # browser sessions signed before are void


class ApiToken(msgspec.Struct, frozen=True, kw_only=True):
    """An API token; the store keeps only the SHA-256 of the secret (``digest``)."""

    id: int
    name: str
    user: str
    digest: str
    created_at: float
    last_used_at: float | None
    expires_at: float | None
    revoked_at: float | None


class Supplier(msgspec.Struct, frozen=True, kw_only=True):
    """A source of indicators: a configured ``feed`` or an API-managed ``list``."""

    id: int
    tenant: str
    name: str
    kind: str                      # feed | list
    description: str
    builtin: bool                  # InternalTI, FalsePositive
    indicators: int                # list indicators held (0 for feeds)
    created_at: float
    updated_at: float


class IndicatorInput(msgspec.Struct, frozen=True, kw_only=True):
    """One indicator to add to or update in a list supplier."""

    value: str
    kind: str = ""                 # ip, cidr, domain, url, md5, ...; "" = detect at load
    category: str = ""
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    tags: tuple[str, ...] = ()
    comment: str = ""
    valid_until: float | None = None


class Indicator(msgspec.Struct, frozen=True, kw_only=True):
    """An indicator of a list supplier, as stored (the value as given, not canonical)."""

    id: int
    tenant: str
    supplier: str
    value: str
    kind: str
    category: str
    context: dict[str, Any]
    tags: tuple[str, ...]
    comment: str
    added_by: str
    created_at: float
    updated_at: float
    valid_until: float | None


class PutResult(msgspec.Struct, frozen=True, kw_only=True):
    added: int
    updated: int


class Tag(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    tenant: str
    name: str
    color: str                     # "#rrggbb" or ""
    description: str
    created_at: float
    updated_at: float


class DetectionInput(msgspec.Struct, frozen=True, kw_only=True):
    """A detection to record; ``detection_id`` is stable, so a retried insert is skipped."""

    detection_id: str
    time: float
    observable: str
    indicator: str
    category: str
    feed: str = ""
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    source: str = ""               # the event's source id
    event: str = ""                # the original event text, cut to MAX_EVENT_CHARS
    snapshot: int = 0
    tenant: str = DEFAULT_TENANT


class Detection(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    detection_id: str
    time: float
    tenant: str
    observable: str
    indicator: str
    category: str
    feed: str
    context: dict[str, Any]
    source: str
    event: str
    snapshot: int


class DetectionQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which detections: a tenant, a half-open time range [start, end), exact filters and
    a case-insensitive substring of the matched indicator."""

    tenant: str = DEFAULT_TENANT
    start: float | None = None
    end: float | None = None
    category: str | None = None
    feed: str | None = None
    source: str | None = None
    indicator: str | None = None


class Stat(msgspec.Struct, frozen=True, kw_only=True):
    """One aggregate: a key (a category, feed, source, or a bucket's start time) and a count."""

    key: str | float
    count: int


class LookupRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One lookup a user made: the values asked (the first ones) and a verdict summary."""

    id: int
    user: str
    tenant: str
    time: float
    values: list[str]
    total: int                     # values asked, kept or not
    summary: dict[str, Any]


class FeedStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What the updater recorded of a feed; ``details`` holds the rest (counts, cursors)."""

    name: str
    enabled: bool = True
    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    records: int = 0
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    updated_at: float | None = None


class Setting(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    value: Any
    updated_by: str
    updated_at: float


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One change: who (actor, address), when, what (action, target, details), which tenant."""

    id: int
    at: float
    actor: str
    address: str
    action: str                    # e.g. user.create, indicators.put, setting.set
    target: str                    # the object changed, e.g. "alice", "InternalTI"
    tenant: str | None
    details: dict[str, Any]
