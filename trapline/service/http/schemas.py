"""Request and answer bodies of the management API, as msgspec structs.

They validate while decoding (a wrong type is a 400 naming the field, e.g.
``$[0].indicator``) and give the OpenAPI document its schemas
(``msgspec.json.schema_components``). Times are UTC epoch seconds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

Name = Annotated[str, Meta(min_length=1, max_length=128)]
Text = Annotated[str, Meta(max_length=4096)]
Password = Annotated[str, Meta(min_length=1, max_length=1024)]
RoleName = Literal["Administrator", "Analyst"]


# -- vendor (CyberTrace-compatible) bodies -------------------------------------------------


class VendorStatus(Struct):
    """The vendor's answer to a change: ``[{"status": "..."}]``."""

    status: str


class VendorPutStatus(Struct):
    """The answer to adding indicators: how many were new and how many updated."""

    status: str
    added: int
    updated: int


class VendorDeleteStatus(Struct):
    status: str
    deleted: int


class VendorSupplierIn(Struct, kw_only=True):
    """A supplier to add (POST) or change (PUT). ``confidence`` and ``retention`` are
    accepted for compatibility and not kept; ``vendor`` is kept as the description."""

    name: Name | None = None
    vendor: Text | None = None
    description: Text | None = None
    confidence: int | None = None
    retention: int | None = None
    status: str | None = None


class VendorSupplier(Struct, kw_only=True):
    """A supplier as the vendor's API shows it, with trapline's fields."""

    name: str
    status: str                   # enabled
    kind: str                     # feed | list
    builtin: bool
    vendor: str
    indicators: int


class VendorIndicatorIn(Struct, kw_only=True, forbid_unknown_fields=False):
    """One indicator to add or update: the value as ``indicator`` (the vendor's
    name), ``value`` or ``object``; optional ``type`` (a trapline kind), category,
    context, tags (existing ones), comment and expiry (``valid_until``)."""

    indicator: str | None = None
    value: str | None = None
    object: str | None = None
    type: str | None = None
    category: Annotated[str, Meta(max_length=128)] = ""
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    tags: list[str] = msgspec.field(default_factory=list)
    comment: Text = ""
    valid_until: float | None = None


class VendorIndicatorRef(Struct, kw_only=True, forbid_unknown_fields=False):
    """An indicator to delete, by its value (``indicator``, ``value`` or ``object``)."""

    indicator: str | None = None
    value: str | None = None
    object: str | None = None


class VendorTagIn(Struct, kw_only=True):
    """A tag to add or change; the vendor's ``weight`` is accepted and not kept."""

    name: Name | None = None
    color: str | None = None
    description: Text | None = None
    weight: int | None = None


class TagOut(Struct, kw_only=True):
    name: str
    color: str
    description: str
    created_at: float
    updated_at: float


# -- sessions ----------------------------------------------------------------------------


class LoginRequest(Struct, kw_only=True):
    """A browser login (JSON or a urlencoded form)."""

    user: Name
    password: Password


class SessionInfo(Struct, kw_only=True):
    """Who is signed in, how, and (for a session) the CSRF token every change must carry
    in ``X-CSRF-Token``."""

    user: str
    role: str
    tenant: str
    via: str                      # password | token | session
    csrf_token: str | None = None
    must_change_password: bool = False
    expires_at: float | None = None


class PasswordChange(Struct, kw_only=True):
    current: Password
    new: Password


class EndSessions(Struct, kw_only=True):
    """Whose browser sessions end: one's own, or (users.manage) another user's."""

    user: Name


# -- lookups -----------------------------------------------------------------------------


class LookupRequest(Struct, kw_only=True):
    """Values to look up (1 to 10,000), with explanations."""

    values: Annotated[list[str], Meta(min_length=1, max_length=10_000)]


class MatchOut(Struct, kw_only=True):
    """One matching record and how it matched."""

    how: str                      # exact, cidr, parent-domain, domain-mask, url-mask, ...
    via: str                      # url-host when found through a URL's host, else ""
    pattern: str                  # the indicator as stored (canonical form, CIDR, mask)
    feed: str                     # the feed, or InternalTI / FalsePositive
    category: str
    context: dict[str, Any]
    explain: str                  # one line: "url-host parent-domain evil.example"
    first_seen: float | None = None
    last_seen: float | None = None
    valid_until: float | None = None
    confidence: int | None = None


class LookupResult(Struct, kw_only=True):
    """The verdict for one value."""

    value: str
    result: Literal["detected", "not detected"]
    kind: str | None              # the value's kind, None when it is no indicator
    canonical: str | None         # its canonical form
    error: str                    # why it is no indicator
    snapshot: int
    matches: list[MatchOut]       # InternalTI first; they always alert
    allowed_by: list[MatchOut]    # allow-list and FalsePositive matches that suppressed
    suppressed: list[MatchOut]    # the feed matches they silenced


class LookupResponse(Struct, kw_only=True):
    tenant: str
    snapshot: int                 # the feed snapshot version every value was looked up in
    lists_version: int            # the InternalTI / FalsePositive lists version
    results: list[LookupResult]


class LookupHistoryEntry(Struct, kw_only=True):
    id: int
    user: str
    tenant: str
    time: float
    values: list[str]
    total: int
    summary: dict[str, Any]


# -- detections --------------------------------------------------------------------------


class DetectionOut(Struct, kw_only=True):
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


class DetectionPage(Struct, kw_only=True):
    items: list[DetectionOut]
    next_cursor: str | None = None
    total: int | None = None


class StatOut(Struct, kw_only=True):
    key: str | float
    count: int


# -- feeds -------------------------------------------------------------------------------


class FeedJob(Struct, kw_only=True):
    """An update started in the background; ``status_url`` shows the feed's state."""

    feed: str
    status: str
    status_url: str


# -- lists -------------------------------------------------------------------------------


class ListIndicatorIn(Struct, kw_only=True):
    """An indicator to add to (or update in) InternalTI or FalsePositive."""

    value: Annotated[str, Meta(min_length=1, max_length=2048)]
    kind: str = ""                # ipv4, cidr, domain, url, url-mask, md5, ...; "" = detect
    category: Annotated[str, Meta(max_length=128)] = ""
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    tags: list[str] = msgspec.field(default_factory=list)
    comment: Text = ""
    valid_until: float | None = None


class ListIndicatorOut(Struct, kw_only=True):
    id: int
    value: str
    kind: str
    category: str
    context: dict[str, Any]
    tags: list[str]
    comment: str
    added_by: str
    created_at: float
    updated_at: float
    valid_until: float | None


class ListPage(Struct, kw_only=True):
    items: list[ListIndicatorOut]
    total: int | None = None
    next_cursor: str | None = None


class PutResultOut(Struct, kw_only=True):
    added: int
    updated: int


# -- settings, users, tokens, audit -------------------------------------------------------


class SettingIn(Struct, kw_only=True):
    """A run-time setting's new value (any JSON value)."""

    value: Any


class SettingOut(Struct, kw_only=True):
    key: str
    value: Any                    # "***" for keys naming a secret
    updated_by: str
    updated_at: float


class UserCreate(Struct, kw_only=True):
    name: Name
    password: Password
    role: RoleName = "Analyst"
    tenant: Name = "General"
    must_change_password: bool = False


class UserPatch(Struct, kw_only=True):
    """What to change; a new ``password`` also lifts a login lock."""

    role: RoleName | None = None
    disabled: bool | None = None
    tenant: Name | None = None
    password: Password | None = None
    must_change_password: bool | None = None


class UserOut(Struct, kw_only=True):
    name: str
    tenant: str
    role: str
    disabled: bool
    must_change_password: bool
    created_at: float
    updated_at: float


class TokenCreate(Struct, kw_only=True):
    name: Name
    expires_in_days: Annotated[float, Meta(gt=0, le=3650)] | None = None


class TokenOut(Struct, kw_only=True):
    id: int
    name: str
    user: str
    created_at: float
    last_used_at: float | None
    expires_at: float | None
    revoked_at: float | None


class TokenCreated(Struct, kw_only=True):
    """A new token: ``token`` is shown this once; only its digest is kept."""

    token: str
    id: int
    name: str
    user: str
    created_at: float
    expires_at: float | None


class AuditOut(Struct, kw_only=True):
    id: int
    at: float
    actor: str
    address: str
    action: str
    target: str
    tenant: str | None
    details: dict[str, Any]


class AuditPage(Struct, kw_only=True):
    items: list[AuditOut]
    next_cursor: str | None = None
